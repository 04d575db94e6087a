/**
 * One event per authorization decision, keyed by tenant. The default sink is
 * the Effect logger; `layerMemory` keeps events for tests and queries;
 * `buffered` puts a sink that does I/O behind a bounded buffer written in
 * batches by a fiber, so recording a decision never waits on the sink.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import type * as Scope from "effect/Scope"
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

/**
 * The audit log cannot take events: its sink has been failing. The request
 * pipeline refuses requests (`unavailable`) rather than decide unrecorded.
 *
 * @since 0.2.0
 */
export class AuditUnavailable extends Data.TaggedError("AuditUnavailable")<{ readonly message: string }> {}

/**
 * Where decisions go. `record` must not wait on I/O: a sink that writes
 * somewhere slow sits behind `buffered`.
 */
export class AuditLog extends Context.Tag("@warden/core/AuditLog")<AuditLog, {
  readonly record: (event: AuditEvent) => Effect.Effect<void, AuditUnavailable>
  /**
   * Optional: records without running an Effect (an in-memory buffer);
   * returns the refusal when it cannot. The request pipeline's fast path.
   *
   * @since 0.2.0
   */
  readonly recordNow?: (event: AuditEvent) => AuditUnavailable | undefined
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
  Effect.sync(() => {
    const events: Array<AuditEvent> = []
    const recordNow = (event: AuditEvent): undefined => void events.push(event)
    return Context.make(AuditLog, { record: (event) => Effect.sync(() => recordNow(event)), recordNow }).pipe(
      Context.add(AuditTrail, {
        all: Effect.sync(() => [...events]),
        byTenant: (tenant) => Effect.sync(() => events.filter((e) => e.tenant === tenant))
      })
    )
  })
)

const dropped = Metric.counter("warden_audit_dropped_total", {
  description: "Audit events dropped because the buffer in front of a slow sink was full"
})
const written = Metric.counter("warden_audit_written_total", { description: "Audit events written by a sink" })
const failures = Metric.counter("warden_audit_write_failures_total", { description: "Batch writes that failed" })

/** The buffered sinks' metrics: events dropped when full, written, and failed batch writes. */
export const metrics = { dropped, written, failures } as const

/** How a buffered sink holds and writes events. */
export interface BufferOptions {
  /** The most events held while the sink catches up; more are dropped and counted. Default 65,536. */
  readonly capacity?: number
  /** The most events handed to one write. Default 1,024. */
  readonly maxBatch?: number
  /** The first delay before a failed batch is written again (doubling, at most 30 s). Default 100 ms. */
  readonly retryBase?: Duration.DurationInput
  /**
   * How many buffered events wake the writer at once. Fewer wait at most
   * `flushInterval`, so a busy server wakes its writer once per batch rather
   * than once per decision. Default 64.
   *
   * @since 0.2.0
   */
  readonly flushAfter?: number
  /** The longest an event waits in the buffer before a write begins (a real timer). Default 10 ms. */
  readonly flushInterval?: Duration.DurationInput
}

/**
 * An audit log in front of a sink that writes batches (a file, a network
 * service). `record` only appends to a bounded buffer and never waits; one
 * fiber in the current scope hands the sink everything buffered, in order,
 * one batch at a time, woken when `flushAfter` events wait or
 * `flushInterval` after the first of them. When the buffer is full an event is dropped and
 * counted (`warden_audit_dropped_total`). A batch that fails is kept and
 * written again with backoff, and while the sink is failing `record` fails
 * with `AuditUnavailable`, so decisions are not made unrecorded. Closing the
 * scope writes what is left.
 *
 * @since 0.2.0
 */
export const buffered = <E>(
  write: (batch: ReadonlyArray<AuditEvent>) => Effect.Effect<void, E>,
  options: BufferOptions = {}
): Effect.Effect<Context.Tag.Service<AuditLog>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const capacity = options.capacity ?? 65_536
    const maxBatch = options.maxBatch ?? 1_024
    const retryBase = Duration.toMillis(options.retryBase ?? Duration.millis(100))
    let queue: Array<AuditEvent> = []
    let failing = false
    let closing = false
    let wake: (() => void) | undefined
    const flushAfter = Math.max(1, options.flushAfter ?? 64)
    const flushInterval = Duration.toMillis(options.flushInterval ?? Duration.millis(10))
    // A real timer, not the Clock: a buffered write must not wait for a test clock to be adjusted.
    let timer: ReturnType<typeof setTimeout> | undefined
    const unavailable = new AuditUnavailable({ message: "the audit sink is failing; decisions are not recorded" })
    const signal = () => {
      if (timer !== undefined) {
        clearTimeout(timer)
        timer = undefined
      }
      if (wake !== undefined) {
        const resume = wake
        wake = undefined
        resume()
      }
    }

    const next = Effect.async<void>((resume) => {
      if (queue.length > 0 || closing) return resume(Effect.void)
      wake = () => resume(Effect.void)
    })
    const take = (): ReadonlyArray<AuditEvent> => {
      if (queue.length <= maxBatch) {
        const all = queue
        queue = []
        return all
      }
      return queue.splice(0, maxBatch)
    }
    /** Writes a batch, again and again with backoff while it fails; once only when the scope is closing. */
    const writeWithRetry = (batch: ReadonlyArray<AuditEvent>): Effect.Effect<void> => {
      const attempt = (delay: number): Effect.Effect<void> =>
        Effect.matchCauseEffect(write(batch), {
          onSuccess: () => {
            failing = false
            return Metric.incrementBy(written, batch.length)
          },
          onFailure: (cause) => {
            failing = true
            const failed = Effect.zipRight(
              Effect.logWarning("warden: audit batch not written", cause),
              Metric.increment(failures)
            )
            if (closing) return failed
            return failed.pipe(
              Effect.zipRight(Effect.sleep(Duration.millis(delay))),
              Effect.zipRight(attempt(Math.min(delay * 2, 30_000)))
            )
          }
        })
      return attempt(retryBase)
    }
    const writer = yield* Effect.suspend(function loop(): Effect.Effect<void> {
      if (closing && queue.length === 0) return Effect.void
      return next.pipe(
        Effect.zipRight(Effect.suspend(() => queue.length === 0 ? Effect.void : writeWithRetry(take()))),
        Effect.zipRight(Effect.suspend(loop))
      )
    }).pipe(Effect.forkDaemon)
    // On close, what is buffered is written before the writer stops (bounded: a stuck sink cannot hold it up).
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        closing = true
        signal()
        return Effect.timeout(Fiber.join(writer), Duration.seconds(10)).pipe(
          Effect.ignore,
          Effect.zipRight(Fiber.interrupt(writer))
        )
      })
    )

    const recordNow = (event: AuditEvent): AuditUnavailable | undefined => {
      if (failing) return unavailable
      if (queue.length >= capacity) {
        dropped.unsafeUpdate(1, [])
        return undefined
      }
      queue.push(event)
      if (queue.length >= flushAfter) {
        signal()
      } else if (timer === undefined && wake !== undefined) {
        timer = setTimeout(signal, flushInterval)
        timer.unref?.()
      }
      return undefined
    }
    return {
      record: (event) =>
        Effect.suspend(() => {
          const refused = recordNow(event)
          return refused === undefined ? Effect.void : Effect.fail(refused)
        }),
      recordNow
    }
  })
