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
import * as Guard from "@warden/core/Guard"
import { CurrentTenant } from "@warden/core/Tenant"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Guarded from "./internal/guarded.js"

/** The header that selects one of several signed tenants. */
export const header = Guarded.tenantHeader

/** Provides `CurrentTenant`. */
export class TenantContext extends RpcMiddleware.Tag<TenantContext>()(Guarded.keys.tenantContext, {
  provides: CurrentTenant,
  failure: Schema.Union(Unauthenticated, Forbidden),
  wrap: true
}) {}

/** The middleware's implementation. */
export const layer: Layer.Layer<TenantContext, never, Authenticator | AuditLog> = Guarded.layer(
  TenantContext,
  Guarded.keys.tenantContext
).pipe(
  Layer.provide(Guard.layer)
)
