import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as AuditLog from "@warden/core/AuditLog"
import { Authenticator } from "@warden/core/Authenticator"
import type { Credentials } from "@warden/core/Authenticator"
import { Forbidden, Unauthenticated } from "@warden/core/AuthError"
import * as Metrics from "@warden/core/Metrics"
import * as Permission from "@warden/core/Permission"
import type { Principal } from "@warden/core/Principal"
import type { Grants } from "@warden/core/Scopes"
import * as Scopes from "@warden/core/Scopes"
import * as Tenant from "@warden/core/Tenant"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Bearer from "./bearer.js"

/** What one request is authenticated as, computed once per request. */
export interface Resolved {
  readonly principal: Principal
  readonly tenant: Tenant.TenantId
  readonly grants: Grants
}

/** A principal, the credentials that authenticated it, and the tenant the request selected. */
export interface Authenticated {
  readonly principal: Principal
  readonly credentials: Credentials
  /** The tenant the request acts for, or why the `x-tenant` header was refused. */
  readonly tenant: Either.Either<Tenant.TenantId, Forbidden>
}

/** The header a multi-tenant credential may use to select one of its signed tenants. */
export const tenantHeader = "x-tenant"

export interface RequestAuthOptions {
  readonly clientId: number
  readonly rpc: { readonly _tag: string }
  readonly headers: object & Readonly<Record<string, string | undefined>>
}

/**
 * Authenticates a request once, however many Warden middlewares ask: the
 * result is memoised on the request's headers object, which the RPC server
 * hands unchanged to every middleware of one request.
 */
export class RequestAuth extends Context.Tag("@warden/rpc/internal/RequestAuth")<RequestAuth, {
  /** The authenticated principal, and the credentials it was authenticated by. */
  readonly authenticate: (options: RequestAuthOptions) => Effect.Effect<Authenticated, Unauthenticated>
  /** The principal, its selected tenant and its compiled grants. */
  readonly resolve: (options: RequestAuthOptions) => Effect.Effect<Resolved, Unauthenticated | Forbidden>
}>() {}

const selectTenant = (
  principal: Principal,
  header: string | undefined
): Either.Either<Tenant.TenantId, Forbidden> => {
  if (header === undefined) return Either.right(principal.tenant)
  const selected = Tenant.decodeOption(header)
  if (Option.isSome(selected) && principal.signs(selected.value)) return Either.right(selected.value)
  return Either.left(
    Forbidden.of(
      "tenant_not_signed",
      `tenant ${Option.isSome(selected) ? selected.value : "(malformed)"}`,
      "the x-tenant header names a tenant the credentials do not sign"
    )
  )
}

const memoised = <A, E>(
  memo: WeakMap<object, Exit.Exit<A, E>>,
  key: object,
  effect: Effect.Effect<A, E>
): Effect.Effect<A, E> =>
  Effect.suspend(() => {
    const hit = memo.get(key)
    if (hit !== undefined) return hit
    return Effect.onExit(effect, (exit) => Effect.sync(() => memo.set(key, exit)))
  })

const decisions = Metric.counter("warden_decisions_total", { description: "Authorization decisions, by outcome" })
const refusals = Metric.counter("warden_refusals_total", {
  description: "Refused requests, by reason, unauthenticated callers included"
})

/** Decisions by outcome (tagged `decision`) and refusals by reason (tagged `reason`). */
export const metrics = { decisions, refusals } as const

export const decisionsBy = Metrics.taggedBy(decisions, "decision")
export const refusalsBy = Metrics.taggedBy(refusals, "reason")

/** The HTTP request's own `authorization` header, when the RPC arrived over HTTP. */
const transportAuthorization: Effect.Effect<string | undefined> = Effect.map(
  Effect.serviceOption(HttpServerRequest.HttpServerRequest),
  (request) => Option.isSome(request) ? request.value.headers["authorization"] : undefined
)

export const layer: Layer.Layer<RequestAuth, never, Authenticator | AuditLog.AuditLog> = Layer.effect(
  RequestAuth,
  Effect.gen(function*() {
    const authenticator = yield* Authenticator
    const audit = yield* AuditLog.AuditLog
    const authenticated = new WeakMap<object, Exit.Exit<Authenticated, Unauthenticated>>()
    const resolved = new WeakMap<object, Exit.Exit<Resolved, Unauthenticated | Forbidden>>()

    /** An unauthenticated caller leaves a trace too: the procedure and the reason, never the token or a claim. */
    const refuse = (options: RequestAuthOptions, error: Unauthenticated) =>
      Effect.gen(function*() {
        yield* Effect.annotateCurrentSpan({
          "warden.decision": "denied",
          "warden.reason": error.reason,
          "warden.requirement": "authenticated"
        })
        yield* Metric.increment(decisionsBy("denied"))
        yield* Metric.increment(refusalsBy(error.reason))
        yield* Effect.logInfo(`warden: refused ${options.rpc._tag}: ${error.reason}`)
        yield* audit.record({
          time: yield* now,
          tenant: null,
          subject: null,
          clientId: null,
          procedure: options.rpc._tag,
          decision: "denied",
          reason: error.reason,
          requirement: "authenticated",
          traceId: yield* currentTraceId
        })
      })

    const authenticate = (options: RequestAuthOptions) =>
      memoised(
        authenticated,
        options.headers,
        Effect.flatMap(transportAuthorization, (transport) =>
          Effect.flatMap(
            Bearer.fromHeaders(options.headers, transport),
            (credentials) =>
              Effect.map(authenticator.authenticate(credentials), (principal) => ({
                principal,
                credentials,
                tenant: selectTenant(principal, options.headers[tenantHeader])
              }))
          )).pipe(Effect.tapError((error) => refuse(options, error)))
      )

    const resolve = (options: RequestAuthOptions) =>
      Effect.gen(function*() {
        const { principal, tenant } = yield* authenticate(options)
        if (Either.isLeft(tenant)) {
          yield* Effect.annotateCurrentSpan({
            "enduser.id": principal.subject,
            "tenant.id": principal.tenant,
            "warden.decision": "denied",
            "warden.reason": tenant.left.reason,
            "warden.requirement": tenant.left.requirement
          })
          yield* Metric.increment(decisionsBy("denied"))
          yield* Metric.increment(refusalsBy(tenant.left.reason))
          yield* audit.record({
            time: yield* now,
            tenant: principal.tenant,
            subject: principal.subject,
            clientId: principal.clientId,
            procedure: options.rpc._tag,
            decision: "denied",
            reason: tenant.left.reason,
            requirement: tenant.left.requirement,
            traceId: yield* currentTraceId
          })
          return yield* tenant.left
        }
        const grants: Grants = {
          scopes: principal.scopes,
          permissions: Permission.compile(principal.permissions)
        }
        yield* Effect.annotateCurrentSpan({
          "enduser.id": principal.subject,
          "tenant.id": tenant.right,
          "enduser.scope": Scopes.render(principal.scopes),
          "warden.principal.kind": principal.kind
        })
        return { principal, tenant: tenant.right, grants }
      })

    return {
      authenticate,
      resolve: (options) => memoised(resolved, options.headers, resolve(options))
    }
  })
)

/** The current time as ISO-8601, from the Effect clock. */
export const now: Effect.Effect<string> = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms).toISOString())

export const currentTraceId: Effect.Effect<string | null> = Effect.map(
  Effect.option(Effect.currentSpan),
  Option.match({ onNone: () => null, onSome: (span) => span.traceId })
)

/** Re-exported for the middlewares' failure schemas. */
export { Forbidden, Unauthenticated }
