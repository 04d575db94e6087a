/**
 * The claims the kit writes into a token for a principal, and the mapping its
 * verifier reads them back with, so that a principal survives the round trip
 * sign → verify unchanged (but for issuer, token id, expiry and how it was
 * authenticated, which the token decides).
 *
 * @since 0.1.0
 */
import * as Claims from "@warden/core/Claims"
import type * as Principal from "@warden/core/Principal"
import * as Scopes from "@warden/core/Scopes"

/** A token's claims (without `iss`, `aud`, `iat`, `exp`: the provider adds those unless given). */
export interface ClaimSet {
  readonly [claim: string]: unknown
}

/** The claim that carries permission grants, and the one that carries denies: Warden's defaults. */
export const permissionsClaim = Claims.defaultPermissionsClaim
export const denyClaim = Claims.defaultDenyClaim

/**
 * How the kit's verifier reads claims: Warden's defaults, nothing configured,
 * so what passes under the kit passes under a verifier configured as in
 * production.
 */
export const mapping: Claims.Mapping = {}

/**
 * The claims of a token for `principal`. A service's `sub` and `client_id`
 * are both its client id (its subject when it has none): the
 * client-credentials shape Warden recognises as a service. A user keeps its
 * `client_id`, if any; one equal to its subject would read back as a service,
 * so `Arbitraries` never makes such a user. Empty lists are left out, as an
 * issuer would.
 */
export const fromPrincipal = (principal: Principal.Principal): ClaimSet => {
  const others = principal.tenants.filter((t) => t !== principal.tenant)
  const service = principal.clientId ?? principal.subject
  return {
    ...(principal.kind === "service" ?
      { sub: service, client_id: service } :
      principal.clientId === null ?
      { sub: principal.subject } :
      { sub: principal.subject, client_id: principal.clientId }),
    tid: principal.tenant,
    ...(others.length === 0 ? {} : { tenants: others }),
    ...(principal.scopes.size === 0 ? {} : { scope: Scopes.render(principal.scopes) }),
    ...(principal.permissions.allow.length === 0 ? {} : { [permissionsClaim]: principal.permissions.allow }),
    ...(principal.permissions.deny.length === 0 ? {} : { [denyClaim]: principal.permissions.deny }),
    ...(principal.tokenId === null ? {} : { jti: principal.tokenId })
  }
}
