/**
 * The `ScopeContext` middleware: provides `CurrentScopes`, the request's
 * scopes and its permissions compiled once per token for fast checks.
 *
 * @since 0.1.0
 */
import * as RpcMiddleware from "@effect/rpc/RpcMiddleware"
import type { AuditLog } from "@warden/core/AuditLog"
import type { Authenticator } from "@warden/core/Authenticator"
import { Forbidden, Unauthenticated } from "@warden/core/AuthError"
import * as Guard from "@warden/core/Guard"
import { CurrentScopes } from "@warden/core/Scopes"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Guarded from "./internal/guarded.js"

/** Provides `CurrentScopes`. */
export class ScopeContext extends RpcMiddleware.Tag<ScopeContext>()(Guarded.keys.scopeContext, {
  provides: CurrentScopes,
  failure: Schema.Union(Unauthenticated, Forbidden),
  wrap: true
}) {}

/** The middleware's implementation. */
export const layer: Layer.Layer<ScopeContext, never, Authenticator | AuditLog> = Guarded.layer(
  ScopeContext,
  Guarded.keys.scopeContext
).pipe(
  Layer.provide(Guard.layer)
)
