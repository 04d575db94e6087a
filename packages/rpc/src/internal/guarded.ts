/**
 * The RPC adapter over core's `Guard`: the four Warden middlewares are one
 * mechanism. Whichever of them a procedure carries, the outermost runs the
 * pipeline once (with what the others need: the tenant and grants for
 * `TenantContext` and `ScopeContext`, the policy for `Authorization`) and
 * provides every service in one context; the others pass through.
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as Rpc from "@effect/rpc/Rpc"
import type * as RpcMiddleware from "@effect/rpc/RpcMiddleware"
import * as RpcSchema from "@effect/rpc/RpcSchema"
import type { Forbidden } from "@warden/core/AuthError"
import { Unauthenticated } from "@warden/core/AuthError"
import * as Guard from "@warden/core/Guard"
import * as Policy from "@warden/core/Policy"
import { CurrentUser } from "@warden/core/Principal"
import { CurrentScopes } from "@warden/core/Scopes"
import { CurrentTenant } from "@warden/core/Tenant"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Bearer from "./bearer.js"
import { CallerCredentials } from "./callerCredentials.js"

/** The middlewares' keys. */
export const keys = {
  authentication: "@warden/rpc/Authentication",
  tenantContext: "@warden/rpc/TenantContext",
  scopeContext: "@warden/rpc/ScopeContext",
  authorization: "@warden/rpc/Authorization"
} as const

/** The header a multi-tenant credential may use to select one of its signed tenants. */
export const tenantHeader = "x-tenant"

/** The policy a procedure requires; set it with `Rpc.annotate` or `Protected.group`. */
export class RequiredPolicy extends Context.Tag("@warden/rpc/RequiredPolicy")<
  RequiredPolicy,
  Policy.Policy<Policy.PolicyContext>
>() {}

/**
 * Annotates a streaming procedure whose stream may outlive the caller's token:
 * authenticated once at the start, trusted for the stream's lifetime.
 */
export class TrustForStreamLifetime
  extends Context.Tag("@warden/rpc/TrustForStreamLifetime")<TrustForStreamLifetime, boolean>()
{}

/** What a procedure's Warden middlewares ask for, worked out once per procedure. */
interface Plan {
  /** The key of the outermost Warden middleware: the one that runs the pipeline. */
  readonly leader: string
  readonly operation: Guard.Operation
  /** Whether a stream is ended when the caller's token expires. */
  readonly guardsStream: boolean
}

const plans = new WeakMap<Rpc.AnyWithProps, Plan>()

const planOf = (rpc: Rpc.AnyWithProps): Plan => {
  const known = plans.get(rpc)
  if (known !== undefined) return known
  const present = new Set<string>()
  let leader = ""
  // Middlewares apply in order, each wrapping the ones before it: the last is the outermost.
  for (const tag of rpc.middlewares) {
    const key = (tag as RpcMiddleware.TagClassAny).key
    if (Object.values(keys).includes(key as never)) {
      present.add(key)
      leader = key
    }
  }
  const authorizes = present.has(keys.authorization)
  const plan: Plan = {
    leader,
    operation: {
      name: rpc._tag,
      resolve: authorizes || present.has(keys.tenantContext) || present.has(keys.scopeContext),
      policy: authorizes ? Context.getOrElse(rpc.annotations, RequiredPolicy, () => Policy.undeclared) : undefined
    },
    guardsStream: RpcSchema.isStreamSchema(rpc.successSchema) &&
      !Context.getOrElse(rpc.annotations, TrustForStreamLifetime, () => false)
  }
  plans.set(rpc, plan)
  return plan
}

const expiredMidStream = Unauthenticated.of("expired", "the token expired during the stream")

type WrapOptions = Parameters<RpcMiddleware.RpcMiddlewareWrap<never, never>>[0]

/**
 * The implementation shared by the four middlewares: `key` is the one being
 * run. Every one but the procedure's outermost Warden middleware passes
 * through.
 */
export const middleware = <Service>(key: string): Effect.Effect<Service, never, Guard.Guard> =>
  Effect.map(
    Guard.Guard,
    (guard) => (options: WrapOptions) => {
      const plan = planOf(options.rpc)
      if (plan.leader !== key) return options.next
      const headers = options.headers as Readonly<Record<string, string | undefined>>
      return Effect.withFiberRuntime<Guard.Passed, Unauthenticated | Forbidden>((fiber) => {
        const request = Context.getOption(fiber.currentContext, HttpServerRequest.HttpServerRequest)
        const transport = request._tag === "Some" ? request.value.headers["authorization"] : undefined
        return guard.run({
          credential: Bearer.fromHeaders(headers, transport),
          tenant: headers[tenantHeader],
          operation: plan.operation
        })
      }).pipe(
        Effect.flatMap((passed) => {
          const entries: Array<[string, unknown]> = [
            [CurrentUser.key, passed.principal],
            [CallerCredentials.key, {
              credentials: passed.credential,
              expiresAt: passed.principal.expiresAt,
              tenant: passed.tenant
            }]
          ]
          if (passed.grants !== undefined && Either.isRight(passed.tenant)) {
            entries.push([CurrentTenant.key, passed.tenant.right], [CurrentScopes.key, passed.grants])
          }
          // One provision for every service: each further one would copy the request's context again.
          const next = Effect.provide(options.next, Context.unsafeMake(new Map(entries)))
          const expiresAt = passed.principal.expiresAt
          if (!plan.guardsStream || expiresAt === null) return next
          return Effect.flatMap(Effect.clockWith((clock) => clock.currentTimeMillis), (now) =>
            Effect.timeoutFail(next, {
              duration: Duration.millis(Math.max(0, expiresAt * 1000 - now)),
              onTimeout: () => expiredMidStream
            }))
        })
      ) as unknown as Effect.Effect<RpcMiddleware.SuccessValue, never>
    }
  ) as unknown as Effect.Effect<Service, never, Guard.Guard>
