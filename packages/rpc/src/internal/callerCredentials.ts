import type { Forbidden } from "@warden/core/AuthError"
import type { Credential } from "@warden/core/Credential"
import type { TenantId } from "@warden/core/Tenant"
import * as Context from "effect/Context"
import type * as Either from "effect/Either"

/**
 * The credentials the current request was authenticated by, so an internal
 * client can forward them. Provided by `Authentication` next to `CurrentUser`,
 * read only by Warden (with `Effect.serviceOption`): handlers never see the
 * raw token.
 */
export class CallerCredentials extends Context.Tag("@warden/rpc/internal/CallerCredentials")<CallerCredentials, {
  readonly credentials: Credential
  /** When the token expires, in epoch seconds, if known. */
  readonly expiresAt: number | null
  /**
   * The tenant the request acts for (its own, or the signed one `x-tenant`
   * selected), which every outbound call carries on; or why the selection
   * was refused, so a call fails before it is sent.
   */
  readonly tenant: Either.Either<TenantId, Forbidden>
}>() {}
