/**
 * An append-only JSONL audit sink: one line per decision (time, tenant,
 * subject, procedure, decision, reason, trace id), for a service's own audit
 * file. Lines are appended in order by one writer fiber, so a line is never
 * interleaved with another.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import { AuditLog } from "@warden/core/AuditLog"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/** Appends every decision to `path` as one JSON line. The file is created if missing, never truncated. */
export const layer = (path: string): Layer.Layer<AuditLog, never, FileSystem.FileSystem> =>
  Layer.scoped(
    AuditLog,
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const file = yield* Effect.orDie(fs.open(path, { flag: "a" }))
      const semaphore = yield* Effect.makeSemaphore(1)
      const encoder = new TextEncoder()
      return {
        record: (event) =>
          semaphore.withPermits(1)(
            file.writeAll(encoder.encode(`${JSON.stringify(event)}\n`)).pipe(
              Effect.catchAll((error) => Effect.logError("warden: audit line not written", error))
            )
          )
      }
    })
  )
