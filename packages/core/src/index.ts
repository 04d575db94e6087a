/**
 * Warden's domain: tenants, principals, scopes, permissions, policies,
 * errors, the `Authenticator` seam and the audit log.
 *
 * @since 0.1.0
 */
export * as ApiKey from "./ApiKey.js"
export * as AuditLog from "./AuditLog.js"
export * as Authenticator from "./Authenticator.js"
export * as AuthError from "./AuthError.js"
export * as Caller from "./Caller.js"
export * as Claims from "./Claims.js"
export * as Credential from "./Credential.js"
export * as Endpoint from "./Endpoint.js"
export * as GrantsCache from "./GrantsCache.js"
export * as GrantSource from "./GrantSource.js"
export * as Guard from "./Guard.js"
export * as Matrix from "./Matrix.js"
export * as Metrics from "./Metrics.js"
export * as PeerIdentity from "./PeerIdentity.js"
export * as Permission from "./Permission.js"
export * as Policy from "./Policy.js"
export * as Principal from "./Principal.js"
export * as Roles from "./Roles.js"
export * as RoleStore from "./RoleStore.js"
export * as Scopes from "./Scopes.js"
export * as Settings from "./Settings.js"
export * as SingleFlight from "./SingleFlight.js"
export * as Tenant from "./Tenant.js"

export { Forbidden, Unauthenticated } from "./AuthError.js"
export { CurrentUser } from "./Principal.js"
export { CurrentScopes } from "./Scopes.js"
export { CurrentTenant } from "./Tenant.js"
