/**
 * Tenant isolation through the real middleware chain: whatever tenant a
 * payload or an x-tenant header names, a handler sees only a tenant the
 * caller's credentials sign.
 */
import * as Rpc from "@effect/rpc/Rpc"
import * as RpcClient from "@effect/rpc/RpcClient"
import * as RpcGroup from "@effect/rpc/RpcGroup"
import * as RpcTest from "@effect/rpc/RpcTest"
import { describe, expect, it } from "@effect/vitest"
import { AuditLog, Authenticator, CurrentTenant, Policy, Principal } from "@warden/core"
import { Outbound, Protected } from "@warden/rpc"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"

const Group = Protected.group(
  RpcGroup.make(Rpc.make("Read", { payload: { tenant: Schema.String }, success: Schema.String })),
  { Read: Policy.authenticated }
)

const Handlers = Protected.toLayer(Group, { Read: () => CurrentTenant })

const tenantId = FastCheck.stringMatching(/^[a-z][a-z0-9-]{0,8}$/)

describe("tenant isolation", () => {
  it.effect.prop(
    "a principal of tenant A never sees another tenant, whatever the payload or x-tenant header names",
    [tenantId, tenantId, FastCheck.option(FastCheck.string({ maxLength: 12 }), { nil: undefined })],
    ([a, b, header]) =>
      Effect.gen(function*() {
        const principal = Principal.make({ subject: "u", tenant: a, issuer: "https://i" })
        const layer = Handlers.pipe(
          Layer.merge(Protected.layer),
          Layer.merge(Outbound.layerManual),
          Layer.provide(Authenticator.layerTest([["t", principal]])),
          Layer.provide(AuditLog.layerMemory)
        )
        const exit = yield* Effect.gen(function*() {
          const client = yield* RpcTest.makeClient(Group)
          return yield* client.Read({ tenant: b }).pipe(
            RpcClient.withHeaders({
              authorization: "Bearer t",
              ...(header === undefined ? {} : { "x-tenant": header })
            })
          )
        }).pipe(Effect.provide(layer), Effect.scoped, Effect.exit)
        if (header === undefined || header === a) {
          expect(exit).toEqual(Exit.succeed(a))
        } else {
          expect(Exit.isFailure(exit) && exit.cause._tag === "Fail" && exit.cause.error._tag).toBe("Forbidden")
        }
      }),
    { fastCheck: { numRuns: 1000 } }
  )
})
