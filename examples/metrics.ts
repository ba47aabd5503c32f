// Prometheus metrics from the package's diagnostics channels, in plain code
// (docs/observability.md): counters and duration sums in the text format a
// scrape reads. With prom-client the subscribers are the same, only the
// counters are its own. test/core/diagnostics.test.ts runs this file.
import diagnostics from 'node:diagnostics_channel'
import type { LoginEvent, RevocationEvent, StoreEvent, UpstreamEvent } from '../index.js'

type Labels = Record<string, string | number | undefined>

/** Subscribes to the four channels; `text()` is the body of GET /metrics, `close()` unsubscribes. */
export function miniprogramAuthMetrics (): { text: () => string, close: () => void } {
  const series = new Map<string, number>()
  const add = (name: string, labels: Labels, value = 1) => {
    const set = Object.entries(labels).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}="${String(v).replace(/["\\\n]/g, '_')}"`)
    const key = `${name}{${set.join(',')}}`
    series.set(key, (series.get(key) ?? 0) + value)
  }
  const subscribers: Record<string, (message: unknown) => void> = {
    'fastify-miniprogram-auth:login': (message) => {
      const { provider, outcome, code, durationMs } = message as LoginEvent
      add('mpa_logins_total', { provider, outcome, code })
      add('mpa_login_duration_ms_sum', { provider, outcome }, durationMs)
    },
    'fastify-miniprogram-auth:revocation': (message) => {
      const { reason, count } = message as RevocationEvent
      add('mpa_sessions_revoked_total', { reason }, count)
    },
    'fastify-miniprogram-auth:upstream': (message) => {
      const { provider, operation, outcome, errcode, durationMs } = message as UpstreamEvent
      add('mpa_upstream_calls_total', { provider, operation, outcome, errcode })
      add('mpa_upstream_duration_ms_sum', { provider, operation }, durationMs)
    },
    'fastify-miniprogram-auth:store': (message) => {
      add('mpa_store_timeouts_total', { event: (message as StoreEvent).event })
    }
  }
  for (const [name, subscriber] of Object.entries(subscribers)) diagnostics.subscribe(name, subscriber)
  return {
    text: () => [...series].map(([key, value]) => `${key} ${value}`).sort().join('\n') + '\n',
    close: () => {
      for (const [name, subscriber] of Object.entries(subscribers)) diagnostics.unsubscribe(name, subscriber)
    }
  }
}
