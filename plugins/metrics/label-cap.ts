// A label's distinct values are capped: a producer that invents a queue name per
// task would otherwise grow the registry (and every scrape) without bound.
export const OTHER_LABEL = '_other'
const MAX_LABEL_LENGTH = 128

export class LabelCap {
  readonly #seen = new Set<string>()
  readonly #max: number
  /** picks answered with OTHER_LABEL */
  overflowed = 0

  constructor (max: number) {
    this.#max = max
  }

  /** `value` while there is room for it (or it was seen before), else OTHER_LABEL. */
  pick (value: unknown): string {
    if (typeof value === 'string' && this.#seen.has(value)) return value
    if (typeof value !== 'string' || value === '' || value.length > MAX_LABEL_LENGTH || this.#seen.size >= this.#max) {
      this.overflowed++
      return OTHER_LABEL
    }
    this.#seen.add(value)
    return value
  }
}
