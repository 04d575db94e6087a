/**
 * The `ScopeContext` middleware: provides `CurrentScopes`, the request's
 * scopes and its permissions compiled once for fast checks.
 *
 * @since 0.1.0
 */
import * as RpcMiddleware from "@effect/rpc/RpcMiddleware"
import type { AuditLog } from "@warden/core/AuditLog"
import type { Authenticator } from "@warden/core/Authenticator"
import { Forbidden, Unauthenticated } from "@warden/core/AuthError"
import { CurrentScopes } from "@warden/core/Scopes"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as RequestAuth from "./internal/requestAuth.js"

/** Provides `CurrentScopes`. */
export class ScopeContext extends RpcMiddleware.Tag<ScopeContext>()("@warden/rpc/ScopeContext", {
  provides: CurrentScopes,
  failure: Schema.Union(Unauthenticated, Forbidden)
}) {}

/** The middleware's implementation. */
export const layer: Layer.Layer<ScopeContext, never, Authenticator | AuditLog> = Layer.effect(
  ScopeContext,
  Effect.map(RequestAuth.RequestAuth, (auth) => (options) => Effect.map(auth.resolve(options), (r) => r.grants))
).pipe(Layer.provide(RequestAuth.layer))
