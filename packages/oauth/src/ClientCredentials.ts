/**
 * A service's own tokens (OAuth 2.0 client credentials, RFC 6749 §4.4), with
 * `resource` (RFC 8707) and `audience`, cached per (client, resource/audience,
 * scope) and refreshed ahead of expiry by a fiber forked into the owner's
 * scope: closing it stops the refresh.
 *
 * - The first token is fetched on first use; concurrent first callers share
 *   one request.
 * - Refresh starts when less than max(60 s, 20% of the lifetime) remains
 *   (never before half the lifetime, nor within a second, has passed), retries with exponential
 *   backoff and jitter, and the current token keeps serving while it is valid.
 * - A token endpoint error reaches a caller only when no valid token is left.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Metrics from "@warden/core/Metrics"
import * as SingleFlight from "@warden/core/SingleFlight"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Random from "effect/Random"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type { ClientAuth } from "./ClientAuth.js"
import * as Endpoint from "./internal/endpoint.js"
import type { AccessToken, TokenSource } from "./TokenSource.js"
import { TokenError } from "./TokenSource.js"

/** How to reach the token endpoint and when to refresh. */
export interface Options extends ClientAuth {
  readonly tokenEndpoint: string
  readonly allowInsecureLoopback?: boolean
  /** Per-request timeout. Default 10 seconds. */
  readonly timeout?: Duration.DurationInput
  /** Refresh when less than max(`refreshAhead`, `refreshFraction` of the lifetime) remains. Defaults 60 s and 0.2. */
  readonly refreshAhead?: Duration.DurationInput
  readonly refreshFraction?: number
  /** First and largest retry delay. Defaults 1 second and 1 minute. */
  readonly retryBase?: Duration.DurationInput
  readonly retryMax?: Duration.DurationInput
  /** Lifetime assumed when the endpoint gives no `expires_in`. Default 5 minutes. */
  readonly defaultLifetime?: Duration.DurationInput
}

/** What a token is for: each distinct request has its own token, never shared. */
export interface TokenRequest {
  readonly scope?: string
  /** RFC 8707 resource indicator(s). */
  readonly resource?: string | ReadonlyArray<string>
  readonly audience?: string
}

/** Token sources of one client. */
export interface ClientCredentials {
  readonly clientId: string
  /** The token source for a request (scope, resource, audience); the same request gives the same source. */
  readonly source: (request?: TokenRequest) => TokenSource
}

const refreshes = Metric.counter("warden_token_refreshes_total", { description: "Token endpoint requests, by outcome" })

/** Token endpoint requests by outcome (tagged `outcome`), to read or to export. */
export const metrics = { refreshes } as const

const refreshesBy = Metrics.taggedBy(refreshes, "outcome")

const TokenResponse = Schema.Struct({
  access_token: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(16 * 1024)),
  token_type: Schema.String,
  expires_in: Schema.optional(Schema.Number.pipe(Schema.positive(), Schema.lessThanOrEqualTo(366 * 24 * 3600))),
  scope: Schema.optional(Schema.String),
  refresh_token: Schema.optional(Schema.String)
})

/** A token endpoint's successful answer, decoded. */
export type TokenResponse = typeof TokenResponse.Type

/** Decodes a token response; only `Bearer` tokens are accepted. */
export const decodeResponse = (body: unknown): Either.Either<TokenResponse, string> =>
  Either.flatMap(
    Either.mapLeft(Schema.decodeUnknownEither(TokenResponse)(body), () => "the token response is malformed"),
    (response) =>
      response.token_type.toLowerCase() === "bearer" ?
        Either.right(response) :
        Either.left("the token endpoint issued a token that is not a Bearer token")
  )

/** Turns an endpoint failure into a `TokenError` for `source`. */
export const toTokenError = (source: string) => (failure: Endpoint.Failure): TokenError =>
  failure.reason === "status" ?
    new TokenError({
      source,
      reason: "refused",
      error: failure.error,
      description: `the token endpoint answered HTTP ${failure.status}`
    }) :
    new TokenError({ source, reason: failure.reason, error: null, description: describe[failure.reason] })

const describe = {
  insecure_url: "the token endpoint URL must use https",
  unreachable: "the token endpoint could not be reached",
  timeout: "the token endpoint did not answer in time",
  redirect: "the token endpoint answered with a redirect",
  too_large: "the token endpoint's answer is too large",
  invalid_response: "the token endpoint's answer is not JSON"
} as const

const keyOf = (request: TokenRequest): string =>
  JSON.stringify([
    request.scope ?? "",
    typeof request.resource === "string" ? [request.resource] : [...(request.resource ?? [])].sort(),
    request.audience ?? ""
  ])

/** Builds the client; refresh fibers live in the current scope. */
export const make = (
  options: Options
): Effect.Effect<ClientCredentials, TokenError, HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    yield* Endpoint.checkUrl(options.tokenEndpoint, options.allowInsecureLoopback, "token endpoint", options.clientId)
    const scope = yield* Effect.scope
    const context = yield* Effect.context<HttpClient.HttpClient>()
    const ahead = Duration.toMillis(options.refreshAhead ?? Duration.seconds(60))
    const fraction = options.refreshFraction ?? 0.2
    const retryBase = Duration.toMillis(options.retryBase ?? Duration.seconds(1))
    const retryMax = Duration.toMillis(options.retryMax ?? Duration.minutes(1))
    const defaultLifetime = Duration.toMillis(options.defaultLifetime ?? Duration.minutes(5))
    const cells = new Map<string, TokenSource>()

    const cell = (request: TokenRequest): TokenSource => {
      const name = [options.clientId, request.resource ?? request.audience, request.scope].filter((p) => p).join(" ")
      let current: (AccessToken & { readonly obtainedAt: number }) | undefined
      let refreshing = false

      const fetchToken = Effect.gen(function*() {
        const body = yield* Endpoint.post({ url: options.tokenEndpoint, auth: options, ...limits(options) }, {
          grant_type: "client_credentials",
          scope: request.scope,
          resource: request.resource,
          audience: request.audience
        }).pipe(Effect.mapError(toTokenError(name)))
        const response = yield* Either.mapLeft(
          decodeResponse(body),
          (description) => new TokenError({ source: name, reason: "invalid_response", error: null, description })
        )
        const now = yield* Clock.currentTimeMillis
        const lifetime = response.expires_in === undefined ? defaultLifetime : response.expires_in * 1000
        current = {
          value: Redacted.make(response.access_token),
          expiresAt: now + lifetime,
          scope: response.scope,
          obtainedAt: now
        }
        return current
      }).pipe(
        Effect.tapBoth({
          onFailure: (e) => Metric.increment(refreshesBy(e.reason)),
          onSuccess: () => Metric.increment(refreshesBy("ok"))
        }),
        Effect.provide(context),
        Effect.withSpan("warden.oauth.client_credentials", {
          attributes: { "oauth.client_id": options.clientId },
          captureStackTrace: false
        })
      )
      const flight = SingleFlight.make(fetchToken, scope)

      const refreshAt = (token: NonNullable<typeof current>) => {
        const lifetime = token.expiresAt - token.obtainedAt
        // Never sooner than a second after the token came: a server answering tiny lifetimes cannot make us spin.
        return Math.max(
          token.expiresAt - Math.max(ahead, lifetime * fraction),
          token.obtainedAt + lifetime / 2,
          token.obtainedAt + 1000
        )
      }

      /** Sleeps until the refresh point, then refreshes, retrying with backoff while the endpoint fails. */
      const refreshLoop = Effect.gen(function*() {
        for (;;) {
          const token = current!
          const now = yield* Clock.currentTimeMillis
          yield* Effect.sleep(Duration.millis(Math.max(0, refreshAt(token) - now)))
          let attempt = 0
          while (Either.isLeft(yield* Effect.either(flight.run))) {
            const backoff = Math.min(retryMax, retryBase * 2 ** attempt++)
            yield* Effect.sleep(Duration.millis(backoff * (0.5 + 0.5 * (yield* Random.next))))
          }
        }
      })

      const token = Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        if (current !== undefined && current.expiresAt > now) return current
        const fresh = yield* flight.run
        yield* Effect.uninterruptible(Effect.suspend(() => {
          if (refreshing) return Effect.void
          refreshing = true
          return Effect.asVoid(Effect.forkIn(Effect.interruptible(refreshLoop), scope))
        }))
        return fresh
      })
      return { name, token }
    }

    return {
      clientId: options.clientId,
      source: (request = {}) => {
        const key = keyOf(request)
        let source = cells.get(key)
        if (source === undefined) {
          source = cell(request)
          cells.set(key, source)
        }
        return source
      }
    }
  })

const limits = (options: Options) => ({
  allowInsecureLoopback: options.allowInsecureLoopback,
  timeout: options.timeout
})

/** One client's token sources as a service, for the common case of one client per service. */
export class Client extends Context.Tag("@warden/oauth/ClientCredentials")<Client, ClientCredentials>() {}

/** The client as a layer; its refresh fibers stop when the layer is released. */
export const layer = (options: Options): Layer.Layer<Client, TokenError, HttpClient.HttpClient> =>
  Layer.scoped(Client, make(options))
