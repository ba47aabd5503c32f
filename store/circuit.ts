// The store's circuit breaker: once Redis is known to be down, every request
// answers 503 at once instead of waiting out the store timeout, and the log
// says so once, then counts, instead of a line per request. Pure
// bookkeeping: the gateway reports outcomes, and probes Redis while open.

/** What the circuit says, for the app's log. */
export interface CircuitLog {
  info: (details: object, message: string) => void
  warn: (details: object, message: string) => void
}

export interface CircuitOptions {
  /** Consecutive timeouts that open it. */
  threshold: number
  /** How often a count of refused requests is logged while it is open. */
  reportEveryMs: number
}

export class Circuit {
  #open = false
  #consecutiveTimeouts = 0
  #openedAt = 0
  #refused = 0
  #refusedSinceReport = 0
  #lastReport = 0

  constructor (private readonly log: CircuitLog, private readonly options: CircuitOptions = { threshold: 3, reportEveryMs: 10_000 }) {}

  get open (): boolean {
    return this.#open
  }

  /** A call answered in time: the store works (the probe, or any request). */
  succeeded (): void {
    this.#consecutiveTimeouts = 0
    if (!this.#open) return
    this.#open = false
    this.log.info({ openMs: Math.round(performance.now() - this.#openedAt), refused: this.#refused }, 'Redis answers again: the session store is back')
  }

  /** A call gave up at its deadline. */
  timedOut (): void {
    if (++this.#consecutiveTimeouts >= this.options.threshold) this.trip(`${this.#consecutiveTimeouts} calls in a row timed out`)
  }

  /** Opens the circuit: from now on every call is refused until a probe succeeds. */
  trip (reason: string): void {
    if (this.#open) return
    this.#open = true
    this.#openedAt = this.#lastReport = performance.now()
    this.#refused = this.#refusedSinceReport = 0
    this.log.warn({ reason }, 'Redis does not answer: the session store answers 503 at once until it does (probed in the background)')
  }

  /** A call refused at once while open; counted, and the count logged now and then. */
  refused (): void {
    this.#refused++
    this.#refusedSinceReport++
    const now = performance.now()
    if (now - this.#lastReport >= this.options.reportEveryMs) {
      this.log.warn({ refused: this.#refusedSinceReport, openMs: Math.round(now - this.#openedAt) }, 'Redis still does not answer: requests refused with 503 meanwhile')
      this.#lastReport = now
      this.#refusedSinceReport = 0
    }
  }
}
