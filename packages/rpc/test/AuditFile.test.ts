import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { describe, expect, it } from "@effect/vitest"
import { AuditLog } from "@warden/core"
import type { Tenant } from "@warden/core"
import { AuditFile } from "@warden/rpc"
import * as Effect from "effect/Effect"
import { createHash } from "node:crypto"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const event = (i: number): AuditLog.AuditEvent => ({
  time: new Date(i * 1000).toISOString(),
  tenant: (i % 2 === 0 ? "acme" : "globex") as Tenant.TenantId,
  subject: `user-${i}`,
  clientId: null,
  procedure: "Reserve",
  decision: i % 3 === 0 ? "denied" : "allowed",
  reason: "scope orders.write",
  requirement: "scope orders.write",
  traceId: `trace-${i}`
})

describe("AuditFile", () => {
  it.effect("appends one whole JSON line per decision, after what the file already held", () =>
    Effect.gen(function*() {
      const path = join(mkdtempSync(join(tmpdir(), "warden-audit-")), "audit.jsonl")
      writeFileSync(path, "{\"earlier\":true}\n")
      yield* Effect.gen(function*() {
        const audit = yield* AuditLog.AuditLog
        yield* Effect.forEach(Array.from({ length: 200 }, (_, i) => event(i)), audit.record, { concurrency: 16 })
      }).pipe(Effect.provide(AuditFile.layer(path)), Effect.provide(NodeFileSystem.layer))
      const lines = readFileSync(path, "utf8").trimEnd().split("\n").map((line) => JSON.parse(line))
        .map(({ hash: _hash, seq: _seq, ...event }) => event)
      expect(lines).toHaveLength(201)
      expect(lines[0]).toEqual({ earlier: true })
      const bySubject = (a: { subject: string | null }, b: { subject: string | null }) =>
        (a.subject ?? "").localeCompare(b.subject ?? "")
      expect(lines.slice(1).sort(bySubject)).toEqual(Array.from({ length: 200 }, (_, i) => event(i)).sort(bySubject))
    }))

  const fresh = () => join(mkdtempSync(join(tmpdir(), "warden-audit-")), "audit.jsonl")
  const write = (path: string, events: ReadonlyArray<AuditLog.AuditEvent>) =>
    Effect.gen(function*() {
      const audit = yield* AuditLog.AuditLog
      for (const e of events) yield* audit.record(e)
    }).pipe(Effect.provide(AuditFile.layer(path)), Effect.provide(NodeFileSystem.layer))
  const check = (path: string) => AuditFile.verify(path).pipe(Effect.provide(NodeFileSystem.layer))
  const events = (from: number, count: number) => Array.from({ length: count }, (_, i) => event(from + i))

  it.effect("chains every line to the one before, in the order recorded, across restarts", () =>
    Effect.gen(function*() {
      const path = fresh()
      yield* write(path, events(0, 30))
      yield* write(path, events(30, 20))
      const lines = readFileSync(path, "utf8").trimEnd().split("\n").map((l) => JSON.parse(l))
      expect(lines.map((l) => l.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1))
      expect(lines.map((l) => l.subject)).toEqual(events(0, 50).map((e) => e.subject))
      expect(yield* check(path)).toMatchObject({ intact: true, lines: 50, lastHash: lines[49].hash })
    }))

  it.effect("reports an altered, a removed, a reordered and a malformed line, naming it", () =>
    Effect.gen(function*() {
      const path = fresh()
      yield* write(path, events(0, 6))
      const original = readFileSync(path, "utf8").trimEnd().split("\n")
      const tampered = (lines: ReadonlyArray<string>) => {
        const copy = fresh()
        writeFileSync(copy, `${lines.join("\n")}\n`)
        return check(copy)
      }
      const altered = [...original]
      altered[2] = altered[2]!.replace("\"decision\":\"allowed\"", "\"decision\":\"denied\"")
      expect(altered[2]).not.toBe(original[2])
      expect(yield* tampered(altered)).toEqual({ intact: false, line: 3, problem: "altered" })
      expect(yield* tampered([...original.slice(0, 3), ...original.slice(4)])).toEqual({
        intact: false,
        line: 4,
        problem: "removed_or_reordered"
      })
      expect(yield* tampered([original[0]!, original[2]!, original[1]!, ...original.slice(3)])).toEqual({
        intact: false,
        line: 2,
        problem: "removed_or_reordered"
      })
      expect(yield* tampered([...original.slice(0, 5), "{\"seq\":6"])).toEqual({
        intact: false,
        line: 6,
        problem: "malformed"
      })
      // A line re-hashed by someone who does not know the previous hash does not fit either.
      const forged = [...original]
      const body = JSON.stringify({ seq: 2, ...event(99) })
      forged[1] = `${body.slice(0, -1)},"hash":"${"ab".repeat(32)}"}`
      expect(yield* tampered(forged)).toEqual({ intact: false, line: 2, problem: "altered" })
      expect(yield* tampered(original)).toMatchObject({ intact: true, lines: 6 })
    }))

  it.effect("writes each line as documented, whatever its fields hold: the event after seq, hashed with the one before", () =>
    Effect.gen(function*() {
      const path = fresh()
      const awkward = [
        "quote \" and backslash \\",
        "line\nbreak\ttab",
        "unicode é 漢字 🙂",
        "\u2028 \u0000",
        "{\"seq\":1}"
      ]
      const recorded = awkward.map((text, i) => ({
        ...event(i),
        subject: text,
        reason: `reason ${text}`,
        traceId: i % 2 === 0 ? null : text
      }))
      yield* write(path, recorded)
      const lines = readFileSync(path, "utf8").trimEnd().split("\n")
      expect(lines).toHaveLength(recorded.length)
      // Computed here from the format's definition, independently of the sink's code.
      let previous = "0".repeat(64)
      for (const [i, e] of recorded.entries()) {
        const body = JSON.stringify({ seq: i + 1, ...e })
        const hash = createHash("sha256").update(`${previous}\n${body}`, "utf8").digest("hex")
        expect(lines[i]).toBe(`${body.slice(0, -1)},"hash":"${hash}"}`)
        previous = hash
      }
      expect(yield* check(path)).toEqual({ intact: true, lines: recorded.length, lastHash: previous })
    }))
})
