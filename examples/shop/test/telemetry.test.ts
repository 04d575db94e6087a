import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import * as Telemetry from "../src/telemetry.js"

describe("telemetry", () => {
  it.live("exports spans and metrics by OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set", () =>
    Effect.gen(function*() {
      const received: Array<string> = []
      const collector = createServer((req, res) => {
        received.push(`${req.method} ${req.url}`)
        req.resume()
        req.on("end", () => {
          res.writeHead(200, { "content-type": "application/json" })
          res.end("{}")
        })
      })
      const port = yield* Effect.async<number>((resume) => {
        collector.listen(0, "127.0.0.1", () => resume(Effect.succeed((collector.address() as AddressInfo).port)))
      })
      const previous = process.env["OTEL_EXPORTER_OTLP_ENDPOINT"]
      process.env["OTEL_EXPORTER_OTLP_ENDPOINT"] = `http://127.0.0.1:${port}`
      const memory = new Telemetry.InMemorySpanExporter()
      // Read inside: the in-memory exporter forgets its spans when the layer shuts it down.
      const inMemory = yield* Effect.gen(function*() {
        yield* Metric.increment(Metric.counter("warden_test_otlp_total"))
        yield* Effect.void.pipe(Effect.withSpan("otlp-check", { attributes: { "tenant.id": "acme" } }))
        return memory.getFinishedSpans().map((s) => s.name)
      }).pipe(
        Effect.provide(Telemetry.layer(memory)),
        Effect.ensuring(Effect.sync(() => {
          if (previous === undefined) delete process.env["OTEL_EXPORTER_OTLP_ENDPOINT"]
          else process.env["OTEL_EXPORTER_OTLP_ENDPOINT"] = previous
        }))
      )
      // Shutting the layer down flushes both exporters; give the requests a bounded moment to land.
      for (
        let i = 0;
        i < 100 && !(received.includes("POST /v1/traces") && received.includes("POST /v1/metrics"));
        i++
      ) {
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 20)))
      }
      collector.closeAllConnections()
      collector.close()
      expect(inMemory).toEqual(["otlp-check"])
      expect(received).toContain("POST /v1/traces")
      expect(received).toContain("POST /v1/metrics")
    }))
})

describe("the trace tree", () => {
  it("puts each RPC server span under the server span that called it, skipping the spans between", () => {
    const span = (name: string, spanId: string, parent: string | undefined, attributes = {}): Telemetry.SpanView => ({
      name,
      spanId,
      traceId: "t",
      parentSpanId: parent,
      attributes
    })
    const lines = Telemetry.tree([
      span("scenario.step1", "a", undefined),
      span("RpcClient.PlaceOrder", "b", "a"),
      span("RpcServer.PlaceOrder", "c", "b", { [Telemetry.serviceAttribute]: "orders", "enduser.id": "alice" }),
      span("RpcClient.Reserve", "d", "c"),
      span("RpcServer.Reserve", "e", "d", { [Telemetry.serviceAttribute]: "inventory", "tenant.id": "acme" }),
      { ...span("RpcServer.Other", "f", undefined), traceId: "other" }
    ], "t")
    expect(lines.map((l) => l.replace(/ +/g, " ").trim())).toEqual([
      "POST PlaceOrder orders user.id=alice",
      "└─ Reserve inventory tenant.id=acme"
    ])
  })
})
