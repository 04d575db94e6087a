/**
 * Where a caller gets the bearer token it sends: a service's own token
 * (client credentials), a user session's (refresh token), or a fixed one.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"

/** An access token and when it expires. */
export interface AccessToken {
  readonly value: Redacted.Redacted<string>
  /** Epoch milliseconds. */
  readonly expiresAt: number
  /** The scope the authorization server granted, when it said. */
  readonly scope: string | undefined
}

/** Why no token could be had. */
export const TokenErrorReason = Schema.Literal(
  "insecure_url",
  "unreachable",
  "timeout",
  "redirect",
  "too_large",
  "invalid_response",
  /** The endpoint refused: `error` holds its OAuth error code (`invalid_client`, `invalid_scope`, ...). */
  "refused",
  /** The refresh token is gone (used, revoked or never set). */
  "no_refresh_token"
)

/** No valid token could be had. Carries the source's name and the endpoint's OAuth error code, never a secret. */
export class TokenError extends Schema.TaggedError<TokenError>("@warden/TokenError")("TokenError", {
  source: Schema.String,
  reason: TokenErrorReason,
  /** The OAuth error code the endpoint answered with, if any. */
  error: Schema.NullOr(Schema.String),
  description: Schema.String
}) {
  override get message(): string {
    return `${this.source}: ${this.reason}${this.error === null ? "" : ` (${this.error})`}: ${this.description}`
  }
}

/** Something that yields a currently valid bearer token. */
export interface TokenSource {
  /** A name for errors and spans, e.g. the client id and audience. */
  readonly name: string
  readonly token: Effect.Effect<AccessToken, TokenError>
}

/** A fixed token, for tests and for tokens obtained elsewhere. */
export const fixed = (name: string, token: AccessToken): TokenSource => ({ name, token: Effect.succeed(token) })
