import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as RpcClient from "@effect/rpc/RpcClient"
import * as RpcSerialization from "@effect/rpc/RpcSerialization"
import * as RpcServer from "@effect/rpc/RpcServer"
import { describe, expect, it } from "@effect/vitest"
import { AuditLog, AuthError, Forbidden, Unauthenticated } from "@warden/core"
import { Outbound } from "@warden/rpc"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import { Api, AuthCount, ServerDeps, tokenOf } from "./fixture.js"

const serializations = [
  ["ndjson", RpcSerialization.layerNdjson],
  ["msgpack", RpcSerialization.layerMsgPack]
] as const

const serverOver = (serialization: Layer.Layer<RpcSerialization.RpcSerialization>) =>
  HttpRouter.Default.serve().pipe(
    Layer.provide(RpcServer.layer(Api)),
    Layer.provide(RpcServer.layerProtocolHttp({ path: "/rpc" })),
    Layer.provideMerge(ServerDeps),
    Layer.provide(serialization),
    Layer.provideMerge(NodeHttpServer.layerTest)
  )

/** A client over real HTTP; `transport` sets the HTTP request's own authorization header. */
const client = (serialization: Layer.Layer<RpcSerialization.RpcSerialization>, transport?: string) =>
  Effect.gen(function*() {
    const url = yield* HttpServer.addressFormattedWith((address) => Effect.succeed(`${address}/rpc`))
    return yield* RpcClient.make(Api).pipe(
      Effect.provide(protocol(url, serialization, transport)),
      Effect.provide(Outbound.layerManual)
    )
  })

const protocol = (url: string, serialization: Layer.Layer<RpcSerialization.RpcSerialization>, transport?: string) =>
  RpcClient.layerProtocolHttp({
    url,
    transformClient: (c) =>
      transport === undefined ?
        c :
        HttpClient.mapRequest(c, HttpClientRequest.setHeader("authorization", transport))
  }).pipe(Layer.provide(serialization), Layer.provide(FetchHttpClient.layer))

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit) || exit.cause._tag !== "Fail") throw new Error(`expected a typed failure, got ${exit._tag}`)
  return exit.cause.error
}

const bearer = (who: "alice" | "bob" | "carol") => `Bearer ${tokenOf(who)}`

for (const [name, serialization] of serializations) {
  describe(`over HTTP with ${name}`, () => {
    it.scoped("an allowed caller's request arrives with its tenant, user and scopes", () =>
      Effect.gen(function*() {
        const rpc = yield* client(serialization)
        const seen = yield* rpc.Reserve({ tenant: "globex", sku: "a", quantity: 1 }).pipe(
          RpcClient.withHeaders({ authorization: bearer("alice") })
        )
        expect(seen).toEqual({
          tenant: "acme",
          subject: "alice",
          scopes: ["orders.write", "openid"],
          payloadTenant: "globex"
        })
      }).pipe(Effect.provide(serverOver(serialization))))

    it.scoped("Unauthenticated arrives as the typed error with its fields", () =>
      Effect.gen(function*() {
        const rpc = yield* client(serialization)
        const error = failureOf(yield* Effect.exit(rpc.Reserve({ tenant: "acme", sku: "a", quantity: 1 })))
        expect(error).toBeInstanceOf(Unauthenticated)
        expect(error).toMatchObject({ code: null, reason: "missing_credentials" })
        expect(AuthError.httpStatus(error as Unauthenticated)).toBe(401)
        expect(AuthError.wwwAuthenticate(error as Unauthenticated)).toBe("Bearer")
      }).pipe(Effect.provide(serverOver(serialization))))

    it.scoped("Forbidden arrives as the typed error with its fields", () =>
      Effect.gen(function*() {
        const rpc = yield* client(serialization)
        const error = failureOf(
          yield* Effect.exit(
            rpc.Reserve({ tenant: "acme", sku: "a", quantity: 1 }).pipe(
              RpcClient.withHeaders({ authorization: bearer("carol") })
            )
          )
        )
        expect(error).toBeInstanceOf(Forbidden)
        expect(error).toMatchObject({
          code: "insufficient_scope",
          reason: "missing_scope",
          requirement: "scope orders.write",
          scope: "orders.write"
        })
        expect(AuthError.grpcStatus(error as Forbidden).name).toBe("PERMISSION_DENIED")
      }).pipe(Effect.provide(serverOver(serialization))))

    it.scoped("the transport authorization header authenticates when no per-RPC header is set", () =>
      Effect.gen(function*() {
        const rpc = yield* client(serialization, bearer("bob"))
        const seen = yield* rpc.ReadStock({ tenant: "acme" }).pipe(Effect.exit)
        // bob has no permissions: authenticated as bob, then refused by the policy.
        expect(failureOf(seen)).toMatchObject({ _tag: "Forbidden", reason: "missing_permission" })
        const trail = yield* AuditLog.AuditTrail
        expect(yield* trail.byTenant("globex")).toMatchObject([{ subject: "bob", decision: "denied" }])
      }).pipe(Effect.provide(serverOver(serialization))))

    it.scoped("a per-RPC header and a transport header that disagree are invalid_request, before authenticating", () =>
      Effect.gen(function*() {
        const rpc = yield* client(serialization, bearer("bob"))
        const error = failureOf(
          yield* Effect.exit(
            rpc.Reserve({ tenant: "acme", sku: "a", quantity: 1 }).pipe(
              RpcClient.withHeaders({ authorization: bearer("alice") })
            )
          )
        )
        expect(error).toMatchObject({
          _tag: "Unauthenticated",
          code: "invalid_request",
          reason: "conflicting_credentials"
        })
        expect(AuthError.httpStatus(error as Unauthenticated)).toBe(400)
        expect(yield* Ref.get(yield* AuthCount)).toBe(0)
      }).pipe(Effect.provide(serverOver(serialization))))

    it.scoped("no per-RPC header a client sends can stand in for the HTTP request's own token", () =>
      Effect.gen(function*() {
        // bob's token on the HTTP request; alice's per-RPC, twice over: as authorization, and under the name a
        // transport middleware once used for the HTTP request's header.
        const rpc = yield* client(serialization, bearer("bob"))
        const error = failureOf(
          yield* Effect.exit(
            rpc.Reserve({ tenant: "acme", sku: "a", quantity: 1 }).pipe(
              RpcClient.withHeaders({
                authorization: bearer("alice"),
                "x-warden-transport-authorization": bearer("alice")
              })
            )
          )
        )
        expect(error).toMatchObject({ _tag: "Unauthenticated", reason: "conflicting_credentials" })
        expect(yield* Ref.get(yield* AuthCount)).toBe(0)
      }).pipe(Effect.provide(serverOver(serialization))))

    it.scoped("the same token sent both ways is accepted", () =>
      Effect.gen(function*() {
        const rpc = yield* client(serialization, bearer("alice"))
        const seen = yield* rpc.Reserve({ tenant: "acme", sku: "a", quantity: 1 }).pipe(
          RpcClient.withHeaders({ authorization: bearer("alice") })
        )
        expect(seen.subject).toBe("alice")
      }).pipe(Effect.provide(serverOver(serialization))))
  })
}
