/**
 * The seam between transports and token formats: credentials in, an
 * authenticated `Principal` out, or `Unauthenticated`.
 *
 * Production implementations verify tokens (JWT in `@warden/jwt`, RFC 7662
 * introspection in `@warden/oauth`). There is deliberately no default
 * implementation: a layer that accepts tokens without verifying them does not
 * exist outside `layerTest`.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { Unauthenticated } from "./AuthError.js"
import type { Credential } from "./Credential.js"
import type { Principal } from "./Principal.js"

/** Authenticates credentials. */
export class Authenticator extends Context.Tag("@warden/core/Authenticator")<Authenticator, {
  readonly authenticate: (credential: Credential) => Effect.Effect<Principal, Unauthenticated>
}>() {}

/**
 * For tests only: an authenticator that knows a fixed table of tokens. A
 * token not in the table is `invalid_token`; a principal whose `expiresAt`
 * has passed (by the Effect `Clock`, so `TestClock` controls it) is
 * `expired`.
 */
export const layerTest = (
  table: Iterable<readonly [token: string, principal: Principal]>
): Layer.Layer<Authenticator> => {
  const principals = new Map(table)
  return Layer.succeed(Authenticator, {
    authenticate: (credentials) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const principal = principals.get(Redacted.value(credentials.token))
        if (principal === undefined) {
          return Effect.fail(Unauthenticated.of("inactive", "the token is not recognised"))
        }
        if (principal.expiresAt !== null && principal.expiresAt * 1000 <= now) {
          return Effect.fail(Unauthenticated.of("expired", "the token has expired"))
        }
        return Effect.succeed(principal)
      })
  })
}
