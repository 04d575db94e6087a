/**
 * A user session's tokens (OAuth 2.0 refresh token grant, RFC 6749 §6).
 * Refresh tokens are often single-use: two refreshes racing with the same
 * refresh token would burn the session. So concurrent callers share one
 * refresh, and a rotated refresh token replaces the old one before anyone
 * can use the old one again.
 *
 * Refreshes happen on demand, when the access token has less than
 * `refreshAhead` left; while a refresh fails, a still-valid access token keeps
 * serving. A refresh token the server no longer accepts (`invalid_grant`) is
 * dropped, and later calls fail with `no_refresh_token`.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as SingleFlight from "@warden/core/SingleFlight"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type { ClientAuth } from "./ClientAuth.js"
import { decodeResponse, toTokenError } from "./ClientCredentials.js"
import * as Endpoint from "./internal/endpoint.js"
import type { AccessToken, TokenSource } from "./TokenSource.js"
import { TokenError } from "./TokenSource.js"

/** A session to keep alive. */
export interface Options extends ClientAuth {
  readonly tokenEndpoint: string
  readonly refreshToken: Redacted.Redacted<string>
  /** The current access token, if the session has one. */
  readonly accessToken?: AccessToken
  readonly scope?: string
  readonly allowInsecureLoopback?: boolean
  readonly timeout?: Duration.DurationInput
  /** Refresh when less than this is left. Default 60 seconds. */
  readonly refreshAhead?: Duration.DurationInput
  /** Lifetime assumed when the endpoint gives no `expires_in`. Default 5 minutes. */
  readonly defaultLifetime?: Duration.DurationInput
  /** Called with each new refresh token, to persist the rotation. */
  readonly onRotated?: (refreshToken: Redacted.Redacted<string>) => Effect.Effect<void>
}

/** A session's token source, and its current refresh token. */
export interface Session extends TokenSource {
  readonly refreshToken: Effect.Effect<Redacted.Redacted<string> | undefined>
}

/** Builds the session; refreshes run in the current scope. */
export const make = (options: Options): Effect.Effect<Session, TokenError, HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    const name = `${options.clientId} session`
    yield* Endpoint.checkUrl(options.tokenEndpoint, options.allowInsecureLoopback, "token endpoint", name)
    const scope = yield* Effect.scope
    const context = yield* Effect.context<HttpClient.HttpClient>()
    const ahead = Duration.toMillis(options.refreshAhead ?? Duration.seconds(60))
    const defaultLifetime = Duration.toMillis(options.defaultLifetime ?? Duration.minutes(5))
    let refreshToken: Redacted.Redacted<string> | undefined = options.refreshToken
    let current: AccessToken | undefined = options.accessToken

    const refresh = Effect.gen(function*() {
      const using = refreshToken
      if (using === undefined) {
        return yield* new TokenError({
          source: name,
          reason: "no_refresh_token",
          error: null,
          description: "the session has no usable refresh token; the user must sign in again"
        })
      }
      const body = yield* Endpoint.post(
        {
          url: options.tokenEndpoint,
          auth: options,
          allowInsecureLoopback: options.allowInsecureLoopback,
          timeout: options.timeout
        },
        { grant_type: "refresh_token", refresh_token: Redacted.value(using), scope: options.scope }
      ).pipe(
        Effect.tapError((failure) =>
          Effect.sync(() => {
            // The server no longer accepts this refresh token: never send it again.
            if (failure.reason === "status" && failure.error === "invalid_grant" && refreshToken === using) {
              refreshToken = undefined
            }
          })
        ),
        Effect.mapError(toTokenError(name))
      )
      const response = yield* Either.mapLeft(
        decodeResponse(body),
        (description) => new TokenError({ source: name, reason: "invalid_response", error: null, description })
      )
      const now = yield* Clock.currentTimeMillis
      if (response.refresh_token !== undefined) {
        refreshToken = Redacted.make(response.refresh_token)
        if (options.onRotated !== undefined) yield* options.onRotated(refreshToken)
      }
      current = {
        value: Redacted.make(response.access_token),
        expiresAt: now + (response.expires_in === undefined ? defaultLifetime : response.expires_in * 1000),
        scope: response.scope
      }
      return current
    }).pipe(Effect.provide(context), Effect.withSpan("warden.oauth.refresh_token", { captureStackTrace: false }))

    const flight = SingleFlight.make(refresh, scope)

    const token = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      if (current !== undefined && current.expiresAt - ahead > now) return current
      const refreshed = yield* Effect.either(flight.run)
      if (Either.isRight(refreshed)) return refreshed.right
      const still = current
      if (still !== undefined && still.expiresAt > (yield* Clock.currentTimeMillis)) return still
      return yield* refreshed.left
    })

    return { name, token, refreshToken: Effect.sync(() => refreshToken) }
  })
