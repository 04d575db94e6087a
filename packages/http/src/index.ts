/**
 * Warden for `@effect/platform`'s HttpApi: middlewares that authenticate
 * every request of a protected endpoint, provide the tenant, user and scopes
 * as typed services, enforce each endpoint's policy, and answer refusals as
 * RFC 6750 responses.
 *
 * @since 0.2.0
 */
export * as Outbound from "./Outbound.js"
export * as Protected from "./Protected.js"
export * as Refusal from "./Refusal.js"
