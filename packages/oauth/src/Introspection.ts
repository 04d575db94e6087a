/**
 * An `Authenticator` for opaque tokens by OAuth 2.0 Token Introspection
 * (RFC 7662): the service asks the authorization server about each token,
 * authenticating as a client, and maps the answer into the same `Principal`
 * a JWT would give (tenant claim included).
 *
 * Answers are cached by a SHA-256 hash of the token (never the token itself):
 * active ones until the token's `exp` and at most `maxCacheTtl`, inactive ones
 * for `inactiveCacheTtl`. Concurrent questions about one token share one
 * request. When the endpoint cannot answer, authentication fails closed
 * (`unavailable`) and nothing is cached.
 *
 * When an `IntrospectionCache` is in the context (`@warden/redis` has one),
 * answers are shared through it too, under the same hash and for the same
 * time, so instances ask the endpoint once per token between them. A shared
 * cache that cannot answer refuses the request (`unavailable`).
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Authenticator from "@warden/core/Authenticator"
import { Unauthenticated } from "@warden/core/AuthError"
import * as Claims from "@warden/core/Claims"
import * as Credential from "@warden/core/Credential"
import * as Metrics from "@warden/core/Metrics"
import type { Principal } from "@warden/core/Principal"
import * as SingleFlight from "@warden/core/SingleFlight"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import { createHash } from "node:crypto"
import type { ClientAuth } from "./ClientAuth.js"
import * as Endpoint from "./internal/endpoint.js"
import { TokenError } from "./TokenSource.js"

/** Where to introspect, as whom, and what to require of the answer. */
export interface Options extends ClientAuth, Claims.Mapping {
  readonly introspectionEndpoint: string
  readonly allowInsecureLoopback?: boolean
  readonly timeout?: Duration.DurationInput
  /** When set, an answer's `iss` must be this issuer (and it stands in for a missing `iss`). */
  readonly issuer?: string
  /** When set, an answer that carries `aud` must include this audience. */
  readonly audience?: string
  /** Longest time an active answer is reused. Default 5 minutes (never past the token's `exp`). */
  readonly maxCacheTtl?: Duration.DurationInput
  /** How long an inactive answer is reused. Default 10 seconds. */
  readonly inactiveCacheTtl?: Duration.DurationInput
  /** Most answers kept. Default 10,000. */
  readonly cacheSize?: number
  /** Longest token accepted for introspection. Default 8 KiB. */
  readonly maxTokenBytes?: number
}

/**
 * A shared cache could not answer or write.
 *
 * @since 0.3.0
 * @category errors
 */
export class IntrospectionCacheUnavailable extends Data.TaggedError("@warden/IntrospectionCacheUnavailable")<{
  readonly message: string
}> {}

/**
 * An introspection answer as a shared cache keeps it: the claims of an
 * active token (checked again when read), or that it is inactive.
 *
 * @since 0.3.0
 * @category models
 */
export type Stored =
  | { readonly active: true; readonly claims: Readonly<Record<string, unknown>> }
  | { readonly active: false }

/**
 * A cache of introspection answers shared by instances, keyed by the
 * SHA-256 of the token (base64url), never the token. An entry lives until
 * `untilMillis`.
 *
 * @since 0.3.0
 * @category models
 */
export class IntrospectionCache extends Context.Tag("@warden/oauth/IntrospectionCache")<IntrospectionCache, {
  readonly get: (
    key: string
  ) => Effect.Effect<{ readonly stored: Stored; readonly until: number } | undefined, IntrospectionCacheUnavailable>
  readonly set: (key: string, stored: Stored, untilMillis: number) => Effect.Effect<void, IntrospectionCacheUnavailable>
}>() {}

/**
 * A shared cache in this process's memory: for tests, and the contract the
 * shared layers follow.
 *
 * @since 0.3.0
 * @category layers
 */
export const layerCacheMemory: Layer.Layer<IntrospectionCache> = Layer.sync(IntrospectionCache, () => {
  const entries = new Map<string, { readonly stored: Stored; readonly until: number }>()
  return {
    get: (key) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const entry = entries.get(key)
        if (entry !== undefined && entry.until <= now) entries.delete(key)
        return entry !== undefined && entry.until > now ? entry : undefined
      }),
    set: (key, stored, until) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        for (const [k, entry] of entries) if (entry.until <= now) entries.delete(k)
        if (until > now) entries.set(key, { stored, until })
      })
  }
})

type Answer =
  | { readonly _tag: "Active"; readonly principal: Principal; readonly until: number }
  | { readonly _tag: "Inactive"; readonly until: number }

const introspections = Metric.counter("warden_introspections_total", { description: "Introspections, by outcome" })

/** Introspections by outcome (tagged `outcome`), to read or to export. */
export const metrics = { introspections } as const

const introspectionsBy = Metrics.taggedBy(introspections, "outcome")

const hash = (token: string): string => createHash("sha256").update(token).digest("base64url")

const unavailable = Unauthenticated.of(
  "unavailable",
  "the token could not be checked: the authorization server's introspection endpoint did not answer"
)

const audiences = (aud: unknown): ReadonlyArray<string> | undefined =>
  typeof aud === "string" ? [aud] : Array.isArray(aud) && aud.every((a) => typeof a === "string") ? aud : undefined

/** Builds the authenticator; in-flight requests live in the current scope. */
export const make = (
  options: Options
): Effect.Effect<Authenticator.Authenticator["Type"], TokenError, HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    yield* Endpoint.checkUrl(
      options.introspectionEndpoint,
      options.allowInsecureLoopback,
      "introspection",
      options.clientId
    )
    const scope = yield* Effect.scope
    const context = yield* Effect.context<HttpClient.HttpClient>()
    const maxTtl = Duration.toMillis(options.maxCacheTtl ?? Duration.minutes(5))
    const inactiveTtl = Duration.toMillis(options.inactiveCacheTtl ?? Duration.seconds(10))
    const maxBytes = options.maxTokenBytes ?? 8 * 1024
    const capacity = options.cacheSize ?? 10_000
    const cache = new Map<string, Answer>()
    const flights = SingleFlight.keyed<Answer, Unauthenticated>(scope)

    const remember = (key: string, answer: Answer) => {
      cache.delete(key)
      cache.set(key, answer)
      if (cache.size > capacity) {
        const oldest = cache.keys().next()
        if (oldest.done !== true) cache.delete(oldest.value)
      }
    }

    const shared = Option.getOrUndefined(yield* Effect.serviceOption(IntrospectionCache))
    const sharedUnavailable = Unauthenticated.of(
      "unavailable",
      "the token could not be checked: the shared introspection cache did not answer"
    )

    /** The answer for an introspection response's claims, checked as they arrived (from the endpoint or the cache). */
    const answerOf = (claims: Record<string, unknown>, now: number): Effect.Effect<Answer, Unauthenticated> =>
      Effect.gen(function*() {
        if (claims["active"] !== true) return { _tag: "Inactive", until: now + inactiveTtl } as const
        if (options.issuer !== undefined && claims["iss"] !== undefined && claims["iss"] !== options.issuer) {
          return yield* Unauthenticated.of("issuer", "the token's issuer is not accepted")
        }
        if (options.audience !== undefined && claims["aud"] !== undefined) {
          const aud = audiences(claims["aud"])
          if (aud === undefined || !aud.includes(options.audience)) {
            return yield* Unauthenticated.of("audience", "the token is not meant for this audience")
          }
        }
        const principal = yield* Claims.toPrincipal(claims, {
          ...options,
          authenticatedBy: "introspection",
          ...(options.issuer === undefined ? {} : { issuer: options.issuer })
        })
        const exp = principal.expiresAt === null ? Infinity : principal.expiresAt * 1000
        return { _tag: "Active", principal, until: Math.min(exp, now + maxTtl) } as const
      })

    const ask = (token: string, key: string): Effect.Effect<Answer, Unauthenticated> =>
      Effect.gen(function*() {
        if (shared !== undefined) {
          const found = yield* Effect.mapError(shared.get(key), () => sharedUnavailable)
          if (found !== undefined) {
            const now = yield* Clock.currentTimeMillis
            const answer = yield* answerOf(found.stored.active ? { ...found.stored.claims, active: true } : {}, now)
            const until = Math.min(answer.until, found.until)
            remember(key, { ...answer, until })
            return answer
          }
        }
        const body = yield* Endpoint.post(
          {
            url: options.introspectionEndpoint,
            auth: options,
            allowInsecureLoopback: options.allowInsecureLoopback,
            timeout: options.timeout
          },
          { token, token_type_hint: "access_token" }
        ).pipe(Effect.mapError(() => unavailable), Effect.provide(context))
        const now = yield* Clock.currentTimeMillis
        const claims = typeof body === "object" && body !== null ? body as Record<string, unknown> : undefined
        if (claims === undefined || typeof claims["active"] !== "boolean") {
          return yield* Unauthenticated.of("unavailable", "the introspection endpoint's answer is malformed")
        }
        const answer = yield* answerOf(claims, now)
        remember(key, answer)
        if (shared !== undefined) {
          // The answer came from the authority: a cache that cannot keep it costs another question later, not a refusal.
          yield* Effect.ignore(
            shared.set(key, answer._tag === "Active" ? { active: true, claims } : { active: false }, answer.until)
          )
        }
        return answer
      })

    const lookup = (token: string) =>
      Effect.gen(function*() {
        const key = hash(token)
        const now = yield* Clock.currentTimeMillis
        const cached = cache.get(key)
        if (cached !== undefined && cached.until > now) return cached
        return yield* flights.run(key, ask(token, key))
      })

    const authenticate = (token: string) =>
      Effect.gen(function*() {
        if (token.length > maxBytes) {
          return yield* Unauthenticated.of("too_large", `the token is longer than ${maxBytes} bytes`)
        }
        const answer = yield* lookup(token)
        const now = yield* Clock.currentTimeMillis
        if (answer._tag === "Inactive") {
          return yield* Unauthenticated.of("inactive", "the authorization server reports the token inactive")
        }
        if (answer.principal.expiresAt !== null && answer.principal.expiresAt * 1000 <= now) {
          return yield* Unauthenticated.of("expired", "the token has expired")
        }
        return answer.principal
      }).pipe(
        Effect.tapBoth({
          onFailure: (e) => Metric.increment(introspectionsBy(e.reason)),
          onSuccess: () => Metric.increment(introspectionsBy("ok"))
        }),
        Effect.withSpan("warden.oauth.introspect", { captureStackTrace: false })
      )

    return {
      authenticate: (credentials) =>
        credentials._tag === "Bearer" ?
          authenticate(Redacted.value(credentials.token)) :
          Effect.fail(Credential.unsupported(credentials))
    }
  })

/** The introspecting `Authenticator` as a layer. */
export const layer = (
  options: Options
): Layer.Layer<Authenticator.Authenticator, TokenError, HttpClient.HttpClient> =>
  Layer.scoped(Authenticator.Authenticator, make(options))
