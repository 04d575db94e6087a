/**
 * An append-only, tamper-evident JSONL audit sink: one line per decision
 * (time, tenant, subject, procedure, decision, reason, trace id), written in
 * batches behind `AuditLog.buffered`, so recording a decision never waits on
 * the disk.
 *
 * Each line carries `seq`, its position in the chain, and `hash`, the SHA-256
 * of the previous line's hash and of the line itself without its hash
 * (64 zeros before the first line). `verify` walks a file and reports the
 * first line that was altered, removed or moved. Appending to an existing
 * file continues its chain. A chain cannot tell that its last lines were cut
 * off: keep the latest hash somewhere else (a log line, a metric, another
 * store) to detect that too.
 *
 * ```ts
 * const report = yield* AuditFile.verify("orders.audit.jsonl")
 * if (!report.intact) yield* Effect.logError(`audit file broken at line ${report.line}: ${report.problem}`)
 * ```
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as AuditLog from "@warden/core/AuditLog"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { hash as digest } from "node:crypto"

/** The hash before the first line. */
export const genesis = "0".repeat(64)

const suffix = /,"hash":"([0-9a-f]{64})"\}$/

const hashOf = (previous: string, body: string): string => digest("sha256", `${previous}\n${body}`, "hex")

/** Where a chain stands: the last line's position and hash. */
interface Head {
  readonly seq: number
  readonly hash: string
}

/** One line of the chain after `head`, and the new head. */
const line = (head: Head, event: AuditLog.AuditEvent): { readonly text: string; readonly head: Head } => {
  const seq = head.seq + 1
  // `{"seq":n,` and then the event's members: the text of `{ seq, ...event }`, without copying the event.
  const body = `{"seq":${seq},${JSON.stringify(event).slice(1)}`
  const hash = hashOf(head.hash, body)
  return { text: `${body.slice(0, -1)},"hash":"${hash}"}\n`, head: { seq, hash } }
}

/** Reads a line back: its body as hashed, its position and its hash; `undefined` when it is not a chain line. */
const parse = (text: string): { readonly body: string; readonly seq: number; readonly hash: string } | undefined => {
  const match = suffix.exec(text)
  if (match === null) return undefined
  const body = `${text.slice(0, match.index)}}`
  try {
    const seq = (JSON.parse(body) as { seq?: unknown }).seq
    return typeof seq === "number" && Number.isSafeInteger(seq) ? { body, seq, hash: match[1]! } : undefined
  } catch {
    return undefined
  }
}

/** What `verify` found. */
export type Report =
  | { readonly intact: true; readonly lines: number; readonly lastHash: string }
  | {
    readonly intact: false
    /** The 1-based number of the first line that does not fit the chain. */
    readonly line: number
    readonly problem: "malformed" | "altered" | "removed_or_reordered"
  }

/** Checks a file's chain from its first line to its last. */
export const verifyText = (text: string): Report => {
  let head: Head = { seq: 0, hash: genesis }
  const lines = text.split("\n")
  if (lines[lines.length - 1] === "") lines.pop()
  for (let i = 0; i < lines.length; i++) {
    const parsed = parse(lines[i]!)
    if (parsed === undefined) return { intact: false, line: i + 1, problem: "malformed" }
    if (parsed.seq !== head.seq + 1) return { intact: false, line: i + 1, problem: "removed_or_reordered" }
    if (hashOf(head.hash, parsed.body) !== parsed.hash) return { intact: false, line: i + 1, problem: "altered" }
    head = { seq: parsed.seq, hash: parsed.hash }
  }
  return { intact: true, lines: lines.length, lastHash: head.hash }
}

/** Checks the chain of the audit file at `path`. */
export const verify = (path: string): Effect.Effect<Report, unknown, FileSystem.FileSystem> =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => Effect.map(fs.readFileString(path), verifyText))

/** The last line of a file, read from its end: the chain continues from it. */
const lastLine = (fs: FileSystem.FileSystem, path: string) =>
  Effect.gen(function*() {
    if (!(yield* fs.exists(path))) return undefined
    const size = Number((yield* fs.stat(path)).size)
    if (size === 0) return undefined
    const window = Math.min(size, 64 * 1024)
    const buffer = new Uint8Array(window)
    yield* Effect.scoped(Effect.gen(function*() {
      const file = yield* fs.open(path, { flag: "r" })
      yield* file.seek(size - window, "start")
      yield* file.read(buffer)
    }))
    const text = new TextDecoder().decode(buffer).replace(/\n+$/, "")
    return text.slice(text.lastIndexOf("\n") + 1)
  })

/** How the file sink buffers. */
export type Options = AuditLog.BufferOptions

/**
 * Appends every decision to `path` as one chained JSON line. The file is
 * created if missing, never truncated; lines are written in batches by one
 * fiber, in the order decisions were recorded.
 */
export const layer = (
  path: string,
  options: Options = {}
): Layer.Layer<AuditLog.AuditLog, never, FileSystem.FileSystem> =>
  Layer.scoped(
    AuditLog.AuditLog,
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const last = yield* Effect.orDie(lastLine(fs, path))
      const parsed = last === undefined ? undefined : parse(last)
      let head: Head = parsed === undefined ? { seq: 0, hash: genesis } : { seq: parsed.seq, hash: parsed.hash }
      const file = yield* Effect.orDie(fs.open(path, { flag: "a" }))
      const encoder = new TextEncoder()
      return yield* AuditLog.buffered((batch) => {
        let text = ""
        let next = head
        for (const event of batch) {
          const written = line(next, event)
          text += written.text
          next = written.head
        }
        return Effect.tap(file.writeAll(encoder.encode(text)), () => {
          head = next
        })
      }, options)
    })
  )
