/**
 * Protecting the endpoints of an HttpApi group: every endpoint declares a
 * policy or `Public` in one typed, exhaustive map, and Warden's
 * middlewares are attached to every endpoint that is not `Public`.
 *
 * ```ts
 * const Stock = Protected.group(StockGroup, {
 *   read: Policy.permission(Catalogue, "inventory:stock:read"),
 *   health: Protected.Public
 * })
 * const Api = HttpApi.make("shop").add(Stock)
 * const ApiLive = HttpApiBuilder.api(Api).pipe(
 *   Layer.provide(StockLive),
 *   Layer.provide(Protected.layer(Api)) // needs an Authenticator and an AuditLog
 * )
 * ```
 *
 * A handler of a protected endpoint may use `CurrentUser`, `CurrentTenant`
 * and `CurrentScopes`; a handler of a public endpoint that uses them leaves
 * them unprovided, and the server does not compile.
 *
 * @since 0.2.0
 */
import type * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import type * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import type * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiMiddleware from "@effect/platform/HttpApiMiddleware"
import * as HttpApiSecurity from "@effect/platform/HttpApiSecurity"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type { AuditLog } from "@warden/core/AuditLog"
import type { Authenticator } from "@warden/core/Authenticator"
import { isAuthError, Unauthenticated } from "@warden/core/AuthError"
import type { Forbidden } from "@warden/core/AuthError"
import * as Caller from "@warden/core/Caller"
import * as Credential from "@warden/core/Credential"
import * as Guard from "@warden/core/Guard"
import type * as Matrix from "@warden/core/Matrix"
import * as Policy from "@warden/core/Policy"
import { CurrentUser } from "@warden/core/Principal"
import { CurrentScopes } from "@warden/core/Scopes"
import { CurrentTenant } from "@warden/core/Tenant"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Refusal from "./Refusal.js"

/** Authenticates the request (the bearer scheme in the OpenAPI document) and provides `CurrentUser`. */
export class Authentication extends HttpApiMiddleware.Tag<Authentication>()("@warden/http/Authentication", {
  provides: CurrentUser,
  failure: Refusal.Refusal,
  security: { bearer: HttpApiSecurity.bearer }
}) {}

/** Provides `CurrentTenant`: the caller's own tenant, or the one it selected with `x-tenant` among those it signs. */
export class TenantContext extends HttpApiMiddleware.Tag<TenantContext>()("@warden/http/TenantContext", {
  provides: CurrentTenant,
  failure: Refusal.Refusal
}) {}

/** Provides `CurrentScopes`: the caller's grants in the request's tenant. */
export class ScopeContext extends HttpApiMiddleware.Tag<ScopeContext>()("@warden/http/ScopeContext", {
  provides: CurrentScopes,
  failure: Refusal.Refusal
}) {}

/**
 * Provides the caller's credentials and tenant to Warden's outbound clients
 * (`@warden/rpc`'s `Outbound.forward`), so a call to the next hop carries
 * them. Handlers never read it.
 */
export class CallerContext extends HttpApiMiddleware.Tag<CallerContext>()("@warden/http/CallerContext", {
  provides: Caller.CallerCredentials,
  failure: Refusal.Refusal
}) {}

/** The middlewares `group` attaches to a protected endpoint. */
export type Middlewares = Authentication | TenantContext | ScopeContext | CallerContext

/** The policy an endpoint requires; `group` sets it. */
export class RequiredPolicy extends Context.Tag("@warden/http/RequiredPolicy")<
  RequiredPolicy,
  Policy.Policy<Policy.PolicyContext>
>() {}

/** Marks an endpoint as needing no credentials. Its handler cannot use Warden's services. */
export const Public: unique symbol = Symbol.for("@warden/http/Public")

/** @since 0.2.0 */
export type Public = typeof Public

/** What each endpoint of a group requires: a policy, or `Public`. Every endpoint must appear. */
export type Policies<E extends HttpApiEndpoint.HttpApiEndpoint.Any> = {
  readonly [K in E["name"]]: Policy.Policy<Policy.PolicyContext> | Public
}

/** The endpoints of a group after `group`: the non-public ones carry Warden's middlewares and refusals. */
export type Protect<E extends HttpApiEndpoint.HttpApiEndpoint.Any, P> = E extends HttpApiEndpoint.HttpApiEndpoint<
  infer Name,
  infer Method,
  infer Path,
  infer UrlParams,
  infer Payload,
  infer Headers,
  infer Success,
  infer Error,
  infer R,
  infer RE
> ? P[Name & keyof P] extends Public ? E :
  HttpApiEndpoint.HttpApiEndpoint<
    Name,
    Method,
    Path,
    UrlParams,
    Payload,
    Headers,
    Success,
    Error | Unauthenticated | Forbidden,
    R | Middlewares,
    RE
  > :
  never

/**
 * Protects a group: every endpoint whose entry is a policy carries
 * `Authentication`, `TenantContext`, `ScopeContext` and `CallerContext` (in its type: what its
 * handler may use; in the OpenAPI document: the bearer scheme and the
 * refusals) and is annotated with that policy. Leaving an endpoint out of
 * `policies`, or naming one the group does not have, is a compile error.
 */
export const group = <
  Id extends string,
  E extends HttpApiEndpoint.HttpApiEndpoint.Any,
  Err,
  R,
  TopLevel extends true | false,
  const P extends Policies<E>
>(
  group: HttpApiGroup.HttpApiGroup<Id, E, Err, R, TopLevel>,
  policies: P & { readonly [K in Exclude<keyof P, E["name"]>]: never }
): HttpApiGroup.HttpApiGroup<Id, Protect<E, P>, Err, R, TopLevel> => {
  const entries = policies as Record<string, Policy.Policy<Policy.PolicyContext> | Public | undefined>
  let out = group as unknown as HttpApiGroup.HttpApiGroup.AnyWithProps
  for (const endpoint of Object.values(out.endpoints)) {
    const entry = entries[endpoint.name]
    if (entry === undefined) {
      throw new globalThis.Error(`Protected.group: endpoint "${endpoint.name}" declares neither a policy nor Public`)
    }
    if (entry === Public) continue
    out = out.add(
      endpoint.middleware(Authentication).middleware(TenantContext).middleware(ScopeContext).middleware(
        CallerContext
      ).annotate(RequiredPolicy, entry)
    )
  }
  return out as unknown as HttpApiGroup.HttpApiGroup<Id, Protect<E, P>, Err, R, TopLevel>
}

/** The header a multi-tenant credential may use to select one of its signed tenants. */
export const tenantHeader = "x-tenant"

const routeKey = (method: string, path: string) => `${method} ${path}`

/** The operation of every protected endpoint of an API, by route. */
const operationsOf = (api: HttpApi.HttpApi.Any): ReadonlyMap<string, Guard.Operation> => {
  const operations = new Map<string, Guard.Operation>()
  for (const group of Object.values((api as unknown as HttpApi.HttpApi.AnyWithProps).groups)) {
    for (const endpoint of Object.values(group.endpoints)) {
      const policy = Context.getOption(endpoint.annotations, RequiredPolicy)
      if (policy._tag === "None") continue
      operations.set(routeKey(endpoint.method, endpoint.path), {
        name: `${group.identifier}.${endpoint.name}`,
        resolve: true,
        policy: policy.value
      })
    }
  }
  return operations
}

/** A route the API does not know carries no policy: refused, never allowed. */
const unknownRoute: Guard.Operation = { name: "(unknown route)", resolve: true, policy: Policy.undeclared }

const conflicting = Unauthenticated.of(
  "conflicting_credentials",
  "the request carries more than one authorization or x-api-key header; send one"
)

/** How many times each credential header came, where the platform tells (Node's raw headers). */
const credentialHeaderCounts = (
  request: HttpServerRequest.HttpServerRequest,
  apiKeyHeader: string
): { readonly authorization: number; readonly apiKey: number } | undefined => {
  const raw = (request.source as { readonly rawHeaders?: unknown } | null | undefined)?.rawHeaders
  if (!Array.isArray(raw)) return undefined
  let authorization = 0
  let apiKey = 0
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]
    if (typeof name !== "string") continue
    if (name.length === 13 && name.toLowerCase() === "authorization") authorization++
    else if (name.length === apiKeyHeader.length && name.toLowerCase() === apiKeyHeader) apiKey++
  }
  return { authorization, apiKey }
}

/**
 * The request's credentials, read strictly from its own headers: a bearer
 * token or an API key in `authorization`, or an API key in its own header
 * (`x-api-key` unless `Credential.layerApiKeyHeader` names another).
 * Node keeps only the first of two `authorization` headers (and joins two
 * `x-api-key` headers), so the raw headers are counted and a second one is
 * refused (`conflicting_credentials`), as are both kinds at once.
 */
export const credentialOf = (
  request: HttpServerRequest.HttpServerRequest,
  apiKeyHeader: string = Credential.apiKeyHeader
): Either.Either<Credential.Credential, Unauthenticated> => {
  const counts = credentialHeaderCounts(request, apiKeyHeader)
  if (counts !== undefined && (counts.authorization > 1 || counts.apiKey > 1)) return Either.left(conflicting)
  const authorization = request.headers["authorization"]
  const key = request.headers[apiKeyHeader]
  if (authorization === undefined && key === undefined) {
    const peer = Credential.fromTlsSocket(Credential.socketOf(request.source))
    if (peer !== undefined) return Either.right(peer)
  }
  return Credential.fromHeaderValues(authorization, key, apiKeyHeader)
}

/**
 * The implementations of the four middlewares, sharing one decision per
 * request, and the rendering of refusals as RFC 6750 responses. Needs an
 * `Authenticator` and an `AuditLog`.
 */
export const layer = (
  api: HttpApi.HttpApi.Any,
  options?: { readonly realm?: string }
): Layer.Layer<Middlewares, never, Authenticator | AuditLog> => {
  const operations = operationsOf(api)
  const middlewares = Layer.effectContext(Effect.map(Guard.Guard, (guard) => {
    // The first of a request's middlewares decides; the others read its answer.
    const decided = new WeakMap<HttpServerRequest.HttpServerRequest, Guard.Passed>()
    const decide = Effect.withFiberRuntime<Guard.Passed, Guard.Refusal>((fiber) => {
      const context = fiber.currentContext
      const request = Context.unsafeGet(context, HttpServerRequest.HttpServerRequest)
      const known = decided.get(request)
      if (known !== undefined) return Effect.succeed(known)
      const route = Context.getOption(context, HttpRouter.RouteContext)
      const operation = route._tag === "Some" ?
        operations.get(routeKey(route.value.route.method, route.value.route.path)) ?? unknownRoute :
        unknownRoute
      const answer = guard.runNow({
        credential: credentialOf(request, Context.get(context, Credential.ApiKeyHeader)),
        tenant: request.headers[tenantHeader],
        operation
      }, fiber)
      if (Guard.isRefusal(answer)) return Effect.fail(answer)
      if (Effect.isEffect(answer)) return Effect.tap(answer, (passed) => void decided.set(request, passed))
      decided.set(request, answer)
      return Effect.succeed(answer)
    })
    const principal = Effect.map(decide, (passed) => passed.principal)
    const tenant = Effect.flatMap(decide, (passed) => passed.tenant)
    // Every protected endpoint resolves its grants: they are always present here.
    const scopes = Effect.map(decide, (passed) => passed.grants!)
    const caller = Effect.map(decide, Caller.fromPassed)
    return Context.make(Authentication, { bearer: () => principal }).pipe(
      Context.add(TenantContext, tenant),
      Context.add(ScopeContext, scopes),
      Context.add(CallerContext, caller)
    )
  })).pipe(Layer.provide(Guard.layer))
  // The app's type says it cannot fail, but a middleware's refusal is a failure until the API encodes it: a
  // refusal is answered here, with the headers its schema cannot carry.
  const render = HttpApiBuilder.middleware((app) =>
    Effect.catchIf(
      app as Effect.Effect<HttpServerResponse.HttpServerResponse, unknown, HttpServerRequest.HttpServerRequest>,
      isAuthError,
      (error) => Effect.succeed(Refusal.toResponse(error, options))
    ) as typeof app
  )
  return Layer.merge(middlewares, render)
}

/**
 * Every endpoint of a group with the policy it requires (or `"public"`), for
 * `Matrix.make`.
 *
 * @since 0.3.0
 * @category accessors
 */
export const procedures = (group: HttpApiGroup.HttpApiGroup.Any): ReadonlyArray<Matrix.Procedure> =>
  Object.values((group as unknown as HttpApiGroup.HttpApiGroup.AnyWithProps).endpoints).map((endpoint) => {
    const policy = Context.getOption(endpoint.annotations, RequiredPolicy)
    return { name: endpoint.name, policy: policy._tag === "Some" ? policy.value : "public" }
  })
