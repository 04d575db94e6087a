/**
 * OpenTelemetry for the shop: every span goes to an in-memory exporter (so
 * the scenario can print each trace as a tree) and, when
 * `OTEL_EXPORTER_OTLP_ENDPOINT` is set, to an OTLP collector as well, with
 * Effect's metrics (verifications, JWKS fetches, token refreshes, decisions)
 * exported the same way.
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { OTLPMetricExporter } from "@opentelemetry/exporter-metrics-otlp-http"
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http"
import { PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import type { ReadableSpan, SpanProcessor } from "@opentelemetry/sdk-trace-base"
import type * as Layer from "effect/Layer"

/** The span attribute naming which shop service a server span belongs to. */
export const serviceAttribute = "warden.service"

/** Tracing for one run: spans land in `exporter`. */
export const layer = (exporter: InMemorySpanExporter): Layer.Layer<never> => {
  const processors: Array<SpanProcessor> = [new SimpleSpanProcessor(exporter)]
  const otlp = process.env["OTEL_EXPORTER_OTLP_ENDPOINT"] !== undefined
  if (otlp) processors.push(new SimpleSpanProcessor(new OTLPTraceExporter()))
  return NodeSdk.layer(() => ({
    resource: { serviceName: "warden-shop" },
    spanProcessor: processors,
    ...(otlp ?
      {
        metricReader: new PeriodicExportingMetricReader({
          exporter: new OTLPMetricExporter(),
          exportIntervalMillis: 1000
        })
      } :
      {})
  })) as Layer.Layer<never>
}

export { InMemorySpanExporter }

/** A span, reduced to what the tree shows and the tests check. */
export interface SpanView {
  readonly name: string
  readonly spanId: string
  readonly traceId: string
  readonly parentSpanId: string | undefined
  readonly attributes: Readonly<Record<string, unknown>>
}

export const view = (span: ReadableSpan): SpanView => ({
  name: span.name,
  spanId: span.spanContext().spanId,
  traceId: span.spanContext().traceId,
  parentSpanId: span.parentSpanContext?.spanId,
  attributes: span.attributes
})

const shown = ["enduser.id", "tenant.id", "enduser.scope", "warden.decision", "warden.reason"] as const
const label: Record<(typeof shown)[number], string> = {
  "enduser.id": "user.id",
  "tenant.id": "tenant.id",
  "enduser.scope": "scope",
  "warden.decision": "decision",
  "warden.reason": "reason"
}

/** Whether a span is a server span of one of the shop's services: an RPC procedure, or a REST request. */
export const isServerSpan = (s: SpanView): boolean =>
  s.name.startsWith("RpcServer.") || (s.name.startsWith("http.server") && s.attributes[serviceAttribute] !== undefined)

/**
 * Renders the server spans of one trace as a tree, children under their
 * parents, e.g.
 * `POST /api/orders   gateway   user.id=alice  tenant.id=acme` and under it
 * `└─ PlaceOrder   orders   user.id=alice  tenant.id=acme`.
 * Other spans are skipped but their children kept.
 */
export const tree = (spans: ReadonlyArray<SpanView>, traceId: string): ReadonlyArray<string> => {
  const inTrace = spans.filter((s) => s.traceId === traceId)
  const byId = new Map(inTrace.map((s) => [s.spanId, s]))
  const isShown = isServerSpan
  const shownParent = (s: SpanView): string | undefined => {
    let parent = s.parentSpanId === undefined ? undefined : byId.get(s.parentSpanId)
    for (let depth = 0; parent !== undefined && depth < 64; depth++) {
      if (isShown(parent)) return parent.spanId
      parent = parent.parentSpanId === undefined ? undefined : byId.get(parent.parentSpanId)
    }
    return undefined
  }
  const children = new Map<string | undefined, Array<SpanView>>()
  for (const span of inTrace.filter(isShown)) {
    const parent = shownParent(span)
    children.set(parent, [...(children.get(parent) ?? []), span])
  }
  const lines: Array<string> = []
  const walk = (parent: string | undefined, depth: number) => {
    for (const span of children.get(parent) ?? []) {
      const rest = span.name.startsWith("http.server")
      const procedure = rest ?
        `${String(span.attributes["http.request.method"])} ${String(span.attributes["url.path"])}` :
        span.name.slice("RpcServer.".length)
      const head = depth === 0 ?
        (rest ? procedure : `POST ${procedure}`) :
        `${"  ".repeat(depth - 1)}  └─ ${procedure}`
      const attributes = shown
        .filter((key) => span.attributes[key] !== undefined && span.attributes[key] !== "")
        .map((key) => `${label[key]}=${String(span.attributes[key])}`)
        .join("  ")
      lines.push(`${head.padEnd(28)} ${String(span.attributes[serviceAttribute] ?? "").padEnd(11)} ${attributes}`)
      walk(span.spanId, depth + 1)
    }
  }
  walk(undefined, 0)
  return lines
}
