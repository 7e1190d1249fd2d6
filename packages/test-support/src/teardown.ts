/** Runs cleanup steps in reverse order of registration, like nested `finally` blocks; errors are collected. */
export class Teardown {
  private readonly steps: Array<() => unknown> = []

  defer(step: () => unknown): void {
    this.steps.push(step)
  }

  async run(): Promise<void> {
    const errors: unknown[] = []
    for (const step of this.steps.splice(0).reverse()) {
      try {
        await step()
      } catch (err) {
        errors.push(err)
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, 'teardown failed')
  }
}
