/** Attribute values for {@link h}: `true` sets an empty attribute, `false`/`null`/`undefined` leave it out. */
export type Attributes = Record<string, string | number | boolean | null | undefined>

/** A child for {@link h}: strings become text nodes (never HTML), falsy values are skipped. */
export type Child = Node | string | false | null | undefined

/** Creates an element with attributes and children; `class` sets the class attribute. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag)
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue
    element.setAttribute(name, value === true ? '' : String(value))
  }
  element.append(...children.filter((child): child is Node | string => child !== false && child != null))
  return element
}
