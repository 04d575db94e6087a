/**
 * Warden for Effect RPC: server middlewares that authenticate every request,
 * provide the tenant, user and scopes as typed services, and enforce each
 * procedure's policy.
 *
 * @since 0.1.0
 */
export * as AuditFile from "./AuditFile.js"
export * as Authentication from "./Authentication.js"
export * as Authorization from "./Authorization.js"
export * as Outbound from "./Outbound.js"
export * as Protected from "./Protected.js"
export * as ScopeContext from "./ScopeContext.js"
export * as TenantContext from "./TenantContext.js"
