import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { describe, expect, it } from "@effect/vitest"
import { AuditLog } from "@warden/core"
import type { Tenant } from "@warden/core"
import { AuditFile } from "@warden/rpc"
import * as Effect from "effect/Effect"
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
      expect(lines).toHaveLength(201)
      expect(lines[0]).toEqual({ earlier: true })
      const bySubject = (a: { subject: string | null }, b: { subject: string | null }) =>
        (a.subject ?? "").localeCompare(b.subject ?? "")
      expect(lines.slice(1).sort(bySubject)).toEqual(Array.from({ length: 200 }, (_, i) => event(i)).sort(bySubject))
    }))
})
