import { test } from 'tap'
import { Circuit } from '../../store/circuit.js'

// The circuit's bookkeeping, without Redis (test/ops/redis-outage.test.ts
// runs it against a frozen Redis): what opens it, what it logs, and when.

function logged () {
  const lines: Array<{ level: 'info' | 'warn', details: Record<string, unknown>, message: string }> = []
  return {
    lines,
    log: {
      info: (details: object, message: string) => { lines.push({ level: 'info', details: details as Record<string, unknown>, message }) },
      warn: (details: object, message: string) => { lines.push({ level: 'warn', details: details as Record<string, unknown>, message }) }
    }
  }
}

test('three timeouts in a row open it, a success between them does not; it says so once', async (t) => {
  const { lines, log } = logged()
  const circuit = new Circuit(log)
  t.equal(circuit.timedOut(), false)
  t.equal(circuit.timedOut(), false)
  circuit.succeeded()
  t.equal(circuit.timedOut(), false)
  t.equal(circuit.timedOut(), false)
  t.equal(circuit.timedOut(), true, 'the third in a row opens it')
  t.equal(circuit.open, true)
  t.equal(circuit.timedOut(), false, 'already open: not opened again')
  t.equal(circuit.trip('another reason'), false)
  t.same(lines.map(({ level, details }) => [level, details.reason]), [['warn', '3 calls in a row timed out']])
})

test('while open, refusals are counted in a line now and then; the first success closes it and says how long', async (t) => {
  const { lines, log } = logged()
  const circuit = new Circuit(log, { threshold: 1, reportEveryMs: 0 })
  t.equal(circuit.trip('a heartbeat went unanswered'), true)
  circuit.refused()
  circuit.refused()
  t.same(lines.slice(1).map(({ details }) => details.refused), [1, 1], 'every report counts the refusals since the last')
  circuit.succeeded()
  t.equal(circuit.open, false)
  t.match(lines.at(-1), { level: 'info', details: { refused: 2 }, message: /answers again/ })
  circuit.succeeded()
  t.equal(lines.length, 4, 'a success while closed says nothing')
})

test('with the default period, refusals within it add no line', async (t) => {
  const { lines, log } = logged()
  const circuit = new Circuit(log)
  circuit.trip('test')
  for (let i = 0; i < 1000; i++) circuit.refused()
  t.equal(lines.length, 1, '1,000 refusals, only the opening line')
})
