/**
 * The credentials the current request was authenticated by, so that a client
 * calling the next hop can forward them with the tenant the request acts for.
 * Provided by Warden's transport adapters next to `CurrentUser`, and read only
 * by Warden's outbound clients (with `Effect.serviceOption`): handlers never
 * see the raw token. Shared by every transport, so a REST request can be
 * forwarded over RPC and the other way round.
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import type * as Either from "effect/Either"
import type { Forbidden } from "./AuthError.js"
import type { Credential } from "./Credential.js"
import type { Passed } from "./Guard.js"
import type { TenantId } from "./Tenant.js"

/** What an outbound client needs of the current request. */
export interface Caller {
  readonly credentials: Credential
  /** When the token expires, in epoch seconds, if known. */
  readonly expiresAt: number | null
  /**
   * The tenant the request acts for (its own, or the signed one `x-tenant`
   * selected), which every outbound call carries on; or why the selection
   * was refused, so a call fails before it is sent.
   */
  readonly tenant: Either.Either<TenantId, Forbidden>
}

/** The current request's caller. Provided only by Warden's middlewares. */
export class CallerCredentials extends Context.Tag("@warden/core/CallerCredentials")<CallerCredentials, Caller>() {}

/** The caller of a request the pipeline passed. */
export const fromPassed = (passed: Passed): Caller => ({
  credentials: passed.credential,
  expiresAt: passed.principal.expiresAt,
  tenant: passed.tenant
})
