import type { Credentials } from "@warden/core/Authenticator"
import * as Context from "effect/Context"

/**
 * The credentials the current request was authenticated by, so an internal
 * client can forward them. Provided by `Authentication` next to `CurrentUser`,
 * read only by Warden (with `Effect.serviceOption`): handlers never see the
 * raw token.
 */
export class CallerCredentials extends Context.Tag("@warden/rpc/internal/CallerCredentials")<CallerCredentials, {
  readonly credentials: Credentials
  /** When the token expires, in epoch seconds, if known. */
  readonly expiresAt: number | null
}>() {}
