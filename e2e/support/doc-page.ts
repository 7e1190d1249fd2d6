import { type BrowserContext, expect, type Locator, type Page } from '@playwright/test'

/** The document page (`/d/<name>`) of the web app, as a test drives it. */
export class DocPage {
  readonly editor: Locator
  readonly presenceCount: Locator
  readonly presenceItems: Locator
  readonly connection: Locator
  readonly save: Locator

  constructor(readonly page: Page) {
    this.editor = page.locator('[data-testid=editor] .cm-content')
    this.presenceCount = page.getByTestId('presence-count')
    this.presenceItems = page.getByTestId('presence-item')
    this.connection = page.getByTestId('connection-status')
    this.save = page.getByTestId('save-status')
  }

  /** Makes every page of `context` appear as `name` (the web app remembers identities in localStorage). */
  static async setUser(context: BrowserContext, name: string, color = '#14958a'): Promise<void> {
    await context.addInitScript(
      ([n, c]) => window.localStorage.setItem('collab:identity', JSON.stringify({ name: n, color: c })),
      [name, color] as const,
    )
  }

  /** Opens the document, with the @codemirror/collab client when `sync` is `ot` (`/d/<name>?sync=ot`). */
  async open(name: string, sync: 'yjs' | 'ot' = 'yjs'): Promise<void> {
    await this.page.goto(`/d/${encodeURIComponent(name)}${sync === 'ot' ? '?sync=ot' : ''}`)
    await this.waitSynced()
  }

  async waitSynced(timeout = 15_000): Promise<void> {
    await expect
      .poll(() => this.page.evaluate(() => window.collab?.editor.status.connection), { timeout })
      .toBe('synced')
  }

  /** Types at the end of the document with real key events. */
  async typeAtEnd(text: string, delay = 0): Promise<void> {
    await this.editor.click()
    await this.page.keyboard.press('Control+End')
    await this.page.keyboard.type(text, { delay })
  }

  /** The document's text as the client holds it (the Y.Text, or the OT client's document). */
  text(): Promise<string> {
    return this.page.evaluate(() => window.collab?.text() ?? '')
  }

  async expectText(expected: string, timeout = 10_000): Promise<void> {
    await expect.poll(() => this.text(), { timeout }).toBe(expected)
  }

  /** Waits until the server acknowledged every local change. */
  async expectSaved(timeout = 10_000): Promise<void> {
    await expect(this.save).toHaveText('Saved', { timeout })
  }
}
