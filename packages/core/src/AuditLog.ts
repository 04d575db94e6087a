/**
 * One event per authorization decision, keyed by tenant. The default sink is
 * the Effect logger; `layerMemory` keeps events for tests and queries.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import type { TenantId } from "./Tenant.js"

/** One authorization decision. Never carries a token, nor a claim that was not verified. */
export interface AuditEvent {
  /** ISO-8601 time of the decision. */
  readonly time: string
  /** The tenant the request acts for; `null` when the caller was not authenticated. */
  readonly tenant: TenantId | null
  /** The verified subject; `null` when the caller was not authenticated. */
  readonly subject: string | null
  readonly clientId: string | null
  /** The procedure (RPC tag) decided on. */
  readonly procedure: string
  readonly decision: "allowed" | "denied"
  /** The matching grant when allowed; the refusal reason when denied. */
  readonly reason: string
  /** What the policy required (when denied) or matched (when allowed). */
  readonly requirement: string
  readonly traceId: string | null
}

/** Where decisions go. */
export class AuditLog extends Context.Tag("@warden/core/AuditLog")<AuditLog, {
  readonly record: (event: AuditEvent) => Effect.Effect<void>
}>() {}

/** The default sink: one log line per decision, annotated with the event's fields. */
export const layerLogger: Layer.Layer<AuditLog> = Layer.succeed(AuditLog, {
  record: (event) =>
    Effect.logInfo(`warden.audit ${event.decision} ${event.procedure}`).pipe(
      Effect.annotateLogs({
        "warden.audit.tenant": event.tenant ?? "",
        "warden.audit.subject": event.subject ?? "",
        "warden.audit.procedure": event.procedure,
        "warden.audit.decision": event.decision,
        "warden.audit.reason": event.reason,
        "warden.audit.requirement": event.requirement,
        "warden.audit.trace_id": event.traceId ?? ""
      })
    )
})

/** Reads what an in-memory audit log holds. */
export class AuditTrail extends Context.Tag("@warden/core/AuditTrail")<AuditTrail, {
  readonly all: Effect.Effect<ReadonlyArray<AuditEvent>>
  readonly byTenant: (tenant: string) => Effect.Effect<ReadonlyArray<AuditEvent>>
}>() {}

/** An in-memory audit log, with `AuditTrail` to read it back. */
export const layerMemory: Layer.Layer<AuditLog | AuditTrail> = Layer.effectContext(
  Effect.map(
    Ref.make<ReadonlyArray<AuditEvent>>([]),
    (events) =>
      Context.make(AuditLog, { record: (event) => Ref.update(events, (all) => [...all, event]) }).pipe(
        Context.add(AuditTrail, {
          all: Ref.get(events),
          byTenant: (tenant) => Effect.map(Ref.get(events), (all) => all.filter((e) => e.tenant === tenant))
        })
      )
  )
)
