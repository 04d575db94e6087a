/**
 * Running a protected RPC group in a test as a given principal: in memory
 * (`RpcTest`) or over HTTP on loopback, with Warden's middlewares verifying
 * real tokens from the `TestIdentityProvider`.
 *
 * ```ts
 * const Server = Layer.mergeAll(Handlers, TestRpc.layerServer()).pipe(
 *   Layer.provideMerge(TestIdentityProvider.layer())
 * )
 * // in a test, with Server provided:
 * const client = yield* TestRpc.inMemory(Api) // or TestRpc.overHttp(Api)
 * const seen = yield* client.Reserve({ sku }).pipe(TestRpc.as(alice))
 * ```
 *
 * Time. The provider signs, and the verifier checks, by the Effect `Clock`:
 * under `it.effect`, `it.scoped` or `it.layer` that is the `TestClock`, which
 * starts at 0 and moves only when told (`TestClock.adjust`). Build the
 * provider, the server and the client inside the test (or its `it.layer`) so
 * they share it; a token then expires exactly when the test moves the clock
 * past its `exp` (plus the verifier's 30-second skew). HTTP stays real: a
 * request travels in real time while the TestClock stands still, so nothing
 * times out by itself; but every Effect timer on the way (the key store's
 * fetch timeout, a stream's expiry) runs on the TestClock, and
 * `TestClock.adjust` does not wait for a request in flight. Move the clock
 * between requests, or in small steps with `advance`, which lets real I/O
 * catch up after each. `it.live` works too, with real time everywhere.
 *
 * @since 0.1.0
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import type * as Rpc from "@effect/rpc/Rpc"
import * as RpcClient from "@effect/rpc/RpcClient"
import type * as RpcClientError from "@effect/rpc/RpcClientError"
import type * as RpcGroup from "@effect/rpc/RpcGroup"
import type * as RpcMiddleware from "@effect/rpc/RpcMiddleware"
import * as RpcSerialization from "@effect/rpc/RpcSerialization"
import * as RpcServer from "@effect/rpc/RpcServer"
import * as RpcTest from "@effect/rpc/RpcTest"
import * as AuditLog from "@warden/core/AuditLog"
import type * as Authenticator from "@warden/core/Authenticator"
import type * as Principal from "@warden/core/Principal"
import type * as JwtVerifier from "@warden/jwt/JwtVerifier"
import type * as KeyStore from "@warden/jwt/KeyStore"
import type * as RevocationStore from "@warden/jwt/RevocationStore"
import * as Authentication from "@warden/rpc/Authentication"
import type * as Authorization from "@warden/rpc/Authorization"
import * as Outbound from "@warden/rpc/Outbound"
import * as Protected from "@warden/rpc/Protected"
import type * as ScopeContext from "@warden/rpc/ScopeContext"
import * as TenantContext from "@warden/rpc/TenantContext"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import { createServer } from "node:http"
import * as TestIdentityProvider from "./TestIdentityProvider.js"

/**
 * Warden's server side for tests: the four middlewares (`Protected.layer`)
 * on the provider's `JwtVerifier`, and an in-memory audit log to read back
 * (`AuditLog.AuditTrail`).
 */
export const layerServer = (
  options: TestIdentityProvider.VerifierOptions = {}
): Layer.Layer<
  | Authentication.Authentication
  | TenantContext.TenantContext
  | ScopeContext.ScopeContext
  | Authorization.Authorization
  | AuditLog.AuditLog
  | AuditLog.AuditTrail
  | Authenticator.Authenticator
  | JwtVerifier.JwtVerifier
  | KeyStore.KeyStore
  | RevocationStore.RevocationStore,
  never,
  TestIdentityProvider.TestIdentityProvider
> =>
  Protected.layer.pipe(
    Layer.provideMerge(TestIdentityProvider.layerAuthenticator(options)),
    Layer.provideMerge(AuditLog.layerMemory)
  )

/** The client-side middleware a Warden group's clients need, leaving the authorization header to the test. */
type ClientMiddleware<Rpcs extends Rpc.Any> = Exclude<
  Rpc.MiddlewareClient<Rpcs>,
  RpcMiddleware.ForClient<Authentication.Authentication>
>

/**
 * A client of `group` served in memory, in the current scope. Its server
 * needs the group's handlers and middlewares (`layerServer`). Calls carry no
 * token until given one (`as`, `withToken`).
 */
export const inMemory = <Rpcs extends Rpc.Any>(
  group: RpcGroup.RpcGroup<Rpcs>
): Effect.Effect<
  RpcClient.RpcClient<Rpcs>,
  never,
  Scope.Scope | Rpc.ToHandler<Rpcs> | Rpc.Middleware<Rpcs> | ClientMiddleware<Rpcs>
> => RpcTest.makeClient(group).pipe(Effect.provide(Outbound.layerManual))

/**
 * A client of `group` served over HTTP: a real server on 127.0.0.1 (a free
 * port), and a fetch-based client, both in the
 * current scope. Serialization defaults to NDJSON.
 */
export const overHttp = <Rpcs extends Rpc.Any>(
  group: RpcGroup.RpcGroup<Rpcs>,
  options: { readonly serialization?: Layer.Layer<RpcSerialization.RpcSerialization> } = {}
): Effect.Effect<
  RpcClient.RpcClient<Rpcs, RpcClientError.RpcClientError>,
  never,
  Scope.Scope | Rpc.ToHandler<Rpcs> | Rpc.Middleware<Rpcs> | Rpc.Context<Rpcs> | ClientMiddleware<Rpcs>
> =>
  Effect.gen(function*() {
    const serialization = options.serialization ?? RpcSerialization.layerNdjson
    const app = yield* RpcServer.toHttpApp(group).pipe(Effect.provide(serialization))
    const server = yield* NodeHttpServer.make(() => createServer(), { port: 0, host: "127.0.0.1" }).pipe(Effect.orDie)
    yield* server.serve(app)
    const port = server.address._tag === "TcpAddress" ? server.address.port : 0
    return yield* RpcClient.make(group).pipe(
      Effect.provide(Outbound.layerManual),
      Effect.provide(
        RpcClient.layerProtocolHttp({ url: `http://127.0.0.1:${port}/` }).pipe(
          Layer.provide(serialization),
          Layer.provide(FetchHttpClient.layer)
        )
      )
    )
  })

/** How a call is made as a principal. */
export interface AsOptions {
  /** Selects one of the tenants the credential signs (the `x-tenant` header). */
  readonly tenant?: string
  /** The token's lifetime. Default the provider's. */
  readonly lifetime?: Duration.DurationInput
}

/** The headers of a call as `principal`: a fresh token from the provider, and `x-tenant` if asked. */
export const headersFor = (
  principal: Principal.Principal,
  options: AsOptions = {}
): Effect.Effect<Readonly<Record<string, string>>, never, TestIdentityProvider.TestIdentityProvider> =>
  Effect.flatMap(TestIdentityProvider.TestIdentityProvider, (provider) =>
    Effect.map(
      provider.issue(principal, options.lifetime === undefined ? {} : { lifetime: options.lifetime }),
      (token) => ({
        authorization: `Bearer ${token}`,
        ...(options.tenant === undefined ? {} : { [TenantContext.header]: options.tenant })
      })
    ))

/** Runs RPC calls in `self` as `principal`, with a token the provider signs now. */
export const as =
  (principal: Principal.Principal, options: AsOptions = {}) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R | TestIdentityProvider.TestIdentityProvider> =>
    RpcClient.withHeadersEffect(self, headersFor(principal, options))

/** Runs RPC calls in `self` with this exact bearer token (a mutated one, say), and `x-tenant` if asked. */
export const withToken =
  (token: string, options: { readonly tenant?: string } = {}) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    RpcClient.withHeaders(self, {
      authorization: `Bearer ${token}`,
      ...(options.tenant === undefined ? {} : { [TenantContext.header]: options.tenant })
    })

/**
 * Moves the TestClock forward by `duration` in `steps` equal steps (default
 * 10, at most 1,000), letting real I/O (an HTTP response, a server fiber the
 * clock woke) run for a few milliseconds after each.
 */
export const advance = (
  duration: Duration.DurationInput,
  options: { readonly steps?: number; readonly pauseMillis?: number } = {}
): Effect.Effect<void> =>
  Effect.gen(function*() {
    const steps = Math.min(Math.max(1, Math.floor(options.steps ?? 10)), 1_000)
    const step = Duration.millis(Duration.toMillis(duration) / steps)
    for (let i = 0; i < steps; i++) {
      yield* TestClock.adjust(step)
      yield* Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, options.pauseMillis ?? 5)))
    }
  })
