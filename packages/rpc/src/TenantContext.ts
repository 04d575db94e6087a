/**
 * The `TenantContext` middleware: provides `CurrentTenant` from the verified
 * credentials, never from a header or the payload.
 *
 * A credential that signs several tenants (a `tenants` claim) lets the
 * `x-tenant` header select one of them; any other value is `Forbidden`
 * (`tenant_not_signed`). Without the header the tenant is the credential's own
 * (`tid`).
 *
 * @since 0.1.0
 */
import * as RpcMiddleware from "@effect/rpc/RpcMiddleware"
import type { AuditLog } from "@warden/core/AuditLog"
import type { Authenticator } from "@warden/core/Authenticator"
import { Forbidden, Unauthenticated } from "@warden/core/AuthError"
import { CurrentTenant } from "@warden/core/Tenant"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as RequestAuth from "./internal/requestAuth.js"

/** The header that selects one of several signed tenants. */
export const header = RequestAuth.tenantHeader

/** Provides `CurrentTenant`. */
export class TenantContext extends RpcMiddleware.Tag<TenantContext>()("@warden/rpc/TenantContext", {
  provides: CurrentTenant,
  failure: Schema.Union(Unauthenticated, Forbidden)
}) {}

/** The middleware's implementation. */
export const layer: Layer.Layer<TenantContext, never, Authenticator | AuditLog> = Layer.effect(
  TenantContext,
  Effect.map(RequestAuth.RequestAuth, (auth) => (options) => Effect.map(auth.resolve(options), (r) => r.tenant))
).pipe(Layer.provide(RequestAuth.layer))
