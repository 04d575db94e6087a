/**
 * RFC 8693 token exchange, the calling side: a service trades the token of
 * the request it is handling for one meant for the next hop alone, and
 * sends that (`Outbound.exchange`). The next hop sees the same user and
 * tenant, and the calling service as the actor; a token exchanged for one
 * audience is refused by every other service.
 *
 * Exchanged tokens are cached per subject token (by its SHA-256, never the
 * token) until `refreshAhead` before they expire; concurrent exchanges of one
 * subject token share one request.
 *
 * @since 0.3.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as SingleFlight from "@warden/core/SingleFlight"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import { createHash } from "node:crypto"
import type { ClientAuth } from "./ClientAuth.js"
import { decodeResponse, toTokenError } from "./ClientCredentials.js"
import * as Endpoint from "./internal/endpoint.js"
import type { AccessToken } from "./TokenSource.js"
import { TokenError } from "./TokenSource.js"

/**
 * Where to exchange, as which client, for which audience.
 *
 * @since 0.3.0
 * @category models
 */
export interface Options extends ClientAuth {
  readonly tokenEndpoint: string
  /** The next hop (RFC 8693 `audience`). */
  readonly audience: string
  /** Narrower than the subject token's, when given. */
  readonly scope?: string
  readonly allowInsecureLoopback?: boolean
  readonly timeout?: Duration.DurationInput
  /** An exchanged token is reused until this much before it expires. Default 10 seconds. */
  readonly refreshAhead?: Duration.DurationInput
  /** Most exchanged tokens kept. Default 10,000. */
  readonly cacheSize?: number
}

/**
 * Exchanges subject tokens for `audience`.
 *
 * @since 0.3.0
 * @category models
 */
export interface Exchanger {
  readonly name: string
  readonly audience: string
  readonly exchange: (subject: Redacted.Redacted<string>) => Effect.Effect<AccessToken, TokenError>
}

const grantType = "urn:ietf:params:oauth:grant-type:token-exchange"
const accessTokenType = "urn:ietf:params:oauth:token-type:access_token"

/**
 * Builds the exchanger; its requests run in the current scope.
 *
 * @since 0.3.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<Exchanger, TokenError, HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    const name = `${options.clientId} exchange for ${options.audience}`
    yield* Endpoint.checkUrl(options.tokenEndpoint, options.allowInsecureLoopback, "token endpoint", name)
    const scope = yield* Effect.scope
    const context = yield* Effect.context<HttpClient.HttpClient>()
    const ahead = Duration.toMillis(options.refreshAhead ?? "10 seconds")
    const capacity = options.cacheSize ?? 10_000
    const cache = new Map<string, AccessToken>()
    const flights = SingleFlight.keyed<AccessToken, TokenError>(scope)

    const ask = (subject: Redacted.Redacted<string>, key: string) =>
      Effect.gen(function*() {
        const body = yield* Endpoint.post(
          {
            url: options.tokenEndpoint,
            auth: options,
            allowInsecureLoopback: options.allowInsecureLoopback,
            timeout: options.timeout
          },
          {
            grant_type: grantType,
            subject_token: Redacted.value(subject),
            subject_token_type: accessTokenType,
            audience: options.audience,
            scope: options.scope
          }
        ).pipe(Effect.mapError(toTokenError(name)))
        const response = yield* Either.mapLeft(
          decodeResponse(body),
          (description) => new TokenError({ source: name, reason: "invalid_response", error: null, description })
        )
        const now = yield* Clock.currentTimeMillis
        const token: AccessToken = {
          value: Redacted.make(response.access_token),
          expiresAt: now + (response.expires_in ?? 60) * 1000,
          scope: response.scope
        }
        cache.delete(key)
        cache.set(key, token)
        if (cache.size > capacity) cache.delete(cache.keys().next().value!)
        return token
      }).pipe(Effect.provide(context), Effect.withSpan("warden.oauth.token_exchange", { captureStackTrace: false }))

    const exchange = (subject: Redacted.Redacted<string>) =>
      Effect.gen(function*() {
        const key = createHash("sha256").update(Redacted.value(subject)).digest("base64url")
        const now = yield* Clock.currentTimeMillis
        const cached = cache.get(key)
        if (cached !== undefined && cached.expiresAt - ahead > now) return cached
        return yield* flights.run(key, ask(subject, key))
      })

    return { name, audience: options.audience, exchange }
  })
