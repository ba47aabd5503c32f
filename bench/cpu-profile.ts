import { relative } from 'node:path'
import { fileURLToPath } from 'node:url'

// Reads a V8 .cpuprofile (node --cpu-prof) and says where the time went:
// self time by group along the authenticate hot path, the top functions, and
// the inclusive time of the steps of the path. Only samples inside a window
// (the measured load) count.

interface CallFrame { functionName: string, url: string, lineNumber: number }
interface ProfileNode { id: number, callFrame: CallFrame, parent?: number, children?: number[] }
export interface CpuProfile { nodes: ProfileNode[], startTime: number, endTime: number, samples: number[], timeDeltas: number[] }

/** `percent` of all the time in the window; `busyPercent` of the time not idle. */
export interface Share { label: string, ms: number, percent: number, busyPercent: number }
export interface ProfileSummary {
  /** Samples inside the window, the time they stand for, and how much of it was not idle. */
  samples: number
  ms: number
  busyMs: number
  /** Self time by group, largest first (they add up to 100%). */
  groups: Share[]
  /** Self time of single functions, largest first. */
  functions: Share[]
  /**
   * Time with a step of the hot path anywhere on the stack (they overlap). An
   * async function is on the stack while it runs, not while it awaits: its
   * callers are not on the stack of its continuations.
   */
  steps: Share[]
}

const root = fileURLToPath(new URL('..', import.meta.url))

function where ({ url, lineNumber }: CallFrame): string {
  if (url === '') return '(native or generated)'
  const path = url.startsWith('file://') ? relative(root, fileURLToPath(url)) : url
  return `${path.replace(/^.*node_modules\//, '')}:${lineNumber + 1}`
}

const under = (frame: CallFrame, ...parts: string[]) => parts.some((part) => frame.url.includes(part))
// Our modules, as TypeScript source (tsx) or compiled (dist/).
const ours = (frame: CallFrame, file: string) => frame.url.startsWith('file://') && !frame.url.includes('/node_modules/') &&
  (frame.url.endsWith(file) || frame.url.endsWith(file.replace(/\.ts$/, '.js')))

const IDLE = 'idle (waiting for I/O)'
// bench/server.ts's round-trip counter wraps every socket write: its frames stand for their caller's.
const COUNTERS = new Set(['countedWrite', 'countedPush'])
const isCore = (frame: CallFrame) => frame.url === '' || frame.url.startsWith('node:') ||
  (COUNTERS.has(frame.functionName) && frame.url.endsWith('/bench/server.ts'))
const WRITES = new Set(['writev', 'writeUtf8String', 'writeBuffer', 'writeLatin1String', 'writeAsciiString', 'writeUcs2String'])

/** The group of a leaf frame, `stack` its callers (nearest first). */
function groupOf (leaf: CallFrame, stack: CallFrame[]): string {
  switch (leaf.functionName) {
    case '(idle)': return IDLE
    case '(garbage collector)': return 'garbage collector'
    case '(program)': return 'V8/native, no JS frame ((program))'
  }
  const frames = [leaf, ...stack]
  // Node's own code and native functions count for the module that called them…
  const ownerAt = frames.findIndex((frame) => !isCore(frame))
  const owner = frames[ownerAt]
  const core = ownerAt < 0 ? frames : frames.slice(0, ownerAt)
  // …but for these, which are steps of the path of their own.
  if (core.some((frame) => under(frame, 'node:internal/crypto', 'node:crypto'))) {
    return owner && ours(owner, '/lib/skey.ts') ? 'crypto: sha256 of the skey (createHash, digest)' : 'crypto: other'
  }
  if (core.some((frame) => under(frame, 'node:internal/timers', 'node:timers'))) {
    return stack.some((frame) => ours(frame, '/store/gateway.ts')) ? 'timers: the gateway deadline (setTimeout/clearTimeout)' : 'timers: other'
  }
  if (WRITES.has(leaf.functionName) && leaf.url === '') {
    // A write to Redis leaves from ioredis, or from the gateway's uncork of the batch it held (store/gateway.ts).
    const toRedis = frames.some((frame) => under(frame, '/node_modules/ioredis/') || ours(frame, '/store/gateway.ts'))
    return toRedis ? 'syscall: socket writes to Redis (from ioredis)' : 'syscall: socket writes of HTTP (replies, upstream calls)'
  }
  if (core.some((frame) => under(frame, 'node:_http', 'node:http'))) return 'Node HTTP: parser, request and response objects, sockets'
  if (owner === undefined) {
    if (leaf.functionName === 'runMicrotasks' || core.some((frame) => under(frame, 'node:internal/process/task_queues'))) {
      return 'promises: microtask queue, nextTick'
    }
    return leaf.url === '' && core.length === 1 ? `native: ${leaf.functionName || '(anonymous)'}` : 'Node: other (streams, events, buffers)'
  }
  return moduleGroup(owner)
}

/** The group of a frame of a package or of ours. */
function moduleGroup (frame: CallFrame): string {
  if (ours(frame, '/plugins/authenticate.ts')) return 'ours: authenticate preHandler'
  if (ours(frame, '/store/sessions.ts')) return 'ours: sessions.get'
  if (ours(frame, '/store/gateway.ts')) return 'ours: gateway.run (deadline, race)'
  if (ours(frame, '/store/session-record.ts')) return 'ours: session record decoding'
  if (ours(frame, '/lib/skey.ts')) return 'ours: lib/skey (format regex, base64url of the id)'
  if (under(frame, '/node_modules/ioredis/built/resp', '/node_modules/ioredis/built/DataHandler')) return 'ioredis: RESP parsing, reply dispatch'
  if (under(frame, '/node_modules/ioredis/', '/node_modules/@ioredis/', '/node_modules/denque/', '/node_modules/standard-as-callback/')) {
    return 'ioredis: commands, pipeline, socket write'
  }
  if (under(frame, '/node_modules/find-my-way/')) return 'Fastify: routing (find-my-way)'
  // The serializer compiled from the route's schema has no url: it counts for reply.js's serialize that calls it.
  if (under(frame, '/node_modules/fast-json-stringify/') || (under(frame, '/node_modules/fastify/lib/reply.js') && frame.functionName === 'serialize')) {
    return 'Fastify: serialisation'
  }
  if (under(frame, '/node_modules/fastify/', '/node_modules/avvio/', '/node_modules/@fastify/', '/node_modules/fastq/')) return 'Fastify: request, hooks, reply'
  if (frame.url.includes('/node_modules/')) return `other module: ${frame.url.replace(/^.*node_modules\/((@[^/]+\/)?[^/]+).*$/, '$1')}`
  return `ours: ${where(frame)}`
}

/** Steps of the hot path: a sample counts for a step when its stack holds a matching frame. */
const STEPS: Array<[string, (frame: CallFrame) => boolean]> = [
  ['authenticate preHandler', (frame) => ours(frame, '/plugins/authenticate.ts')],
  ['  sessions.get', (frame) => ours(frame, '/store/sessions.ts') && frame.functionName === 'get'],
  ['    sessionIdOf (sha256)', (frame) => ours(frame, '/lib/skey.ts') && frame.functionName === 'sessionIdOf'],
  ['    gateway.run (deadline timer, race)', (frame) => ours(frame, '/store/gateway.ts') && frame.functionName === 'run'],
  ['      ioredis pipeline (build, exec, write)', (frame) => under(frame, '/node_modules/ioredis/built/Pipeline', '/node_modules/ioredis/built/utils/Commander')],
  ['    decodeSession', (frame) => ours(frame, '/store/session-record.ts')],
  ['ioredis reply parsing and dispatch (data from Redis)', (frame) => under(frame, '/node_modules/ioredis/built/resp', '/node_modules/ioredis/built/DataHandler')],
  ['reply serialisation', (frame) => under(frame, '/node_modules/fastify/lib/reply.js') && frame.functionName === 'serialize'],
  ['HTTP reply written (ServerResponse.end)', (frame) => under(frame, 'node:_http_outgoing') && frame.functionName === 'end']
]

export function summarise (profile: CpuProfile, window: { fromUs: number, toUs: number }): ProfileSummary {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]))
  for (const node of profile.nodes) for (const child of node.children ?? []) nodes.get(child)!.parent = node.id
  const self = new Map<string, number>()
  const functions = new Map<string, number>()
  const steps = new Map<string, number>()
  let time = profile.startTime
  let total = 0
  let samples = 0
  const add = (map: Map<string, number>, key: string, us: number) => map.set(key, (map.get(key) ?? 0) + us)
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0
    time += delta
    if (time < window.fromUs || time > window.toUs) continue
    // A sample stands for the time since the previous one.
    const us = Math.max(0, delta)
    const leaf = nodes.get(profile.samples[i]!)!
    const stack: CallFrame[] = []
    for (let node = leaf.parent; node !== undefined; node = nodes.get(node)!.parent) stack.push(nodes.get(node)!.callFrame)
    const group = groupOf(leaf.callFrame, stack)
    add(self, group, us)
    add(functions, group === IDLE ? IDLE : `${leaf.callFrame.functionName || '(anonymous)'} ${where(leaf.callFrame)}`, us)
    const frames = [leaf.callFrame, ...stack]
    for (const [label, test] of STEPS) if (frames.some(test)) add(steps, label, us)
    total += us
    samples++
  }
  const busy = total - (self.get(IDLE) ?? 0)
  const share = (label: string, us: number, idle = label === IDLE): Share =>
    ({ label, ms: us / 1000, percent: (100 * us) / Math.max(1, total), busyPercent: idle ? NaN : (100 * us) / Math.max(1, busy) })
  const sorted = (map: Map<string, number>) => [...map].map(([label, us]) => share(label, us)).sort((x, y) => y.ms - x.ms)
  return {
    samples,
    ms: total / 1000,
    busyMs: busy / 1000,
    groups: sorted(self),
    functions: sorted(functions),
    steps: STEPS.map(([label]) => share(label, steps.get(label) ?? 0, false))
  }
}
