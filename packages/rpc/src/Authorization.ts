/**
 * The `Authorization` middleware: evaluates the policy declared on the
 * procedure (the `RequiredPolicy` annotation) through the request pipeline,
 * which records the decision on the current span and in the `AuditLog`, and
 * refuses with `Forbidden`.
 *
 * A procedure that carries the middleware but declares no policy is refused:
 * the safe default.
 *
 * @since 0.1.0
 */
import * as RpcMiddleware from "@effect/rpc/RpcMiddleware"
import type { AuditLog } from "@warden/core/AuditLog"
import type { Authenticator } from "@warden/core/Authenticator"
import { Forbidden, Unauthenticated } from "@warden/core/AuthError"
import * as Guard from "@warden/core/Guard"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Guarded from "./internal/guarded.js"

/** The policy a procedure requires; set it with `Rpc.annotate` or `Protected.group`. */
export const RequiredPolicy = Guarded.RequiredPolicy

/** @since 0.1.0 */
export type RequiredPolicy = Guarded.RequiredPolicy

/** Enforces each procedure's `RequiredPolicy`. */
export class Authorization extends RpcMiddleware.Tag<Authorization>()(Guarded.keys.authorization, {
  failure: Schema.Union(Unauthenticated, Forbidden),
  wrap: true
}) {}

/**
 * Decisions by outcome (`warden_decisions_total`, tagged `decision`) and
 * refusals by reason (`warden_refusals_total`, tagged `reason`, refusals of
 * unauthenticated callers included), to read or to export.
 */
export const metrics = Guard.metrics

/** The middleware's implementation. */
export const layer: Layer.Layer<Authorization, never, Authenticator | AuditLog> = Guarded.layer(
  Authorization,
  Guarded.keys.authorization
).pipe(
  Layer.provide(Guard.layer)
)
