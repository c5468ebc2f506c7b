/**
 * Building DOM nodes without HTML strings: every piece of data becomes a text node, so a device
 * named `<script>` shows as those characters and never as markup (the CSP forbids inline scripts
 * anyway; this keeps it from ever mattering).
 */

export type Child = Node | string | number | null | undefined | false;
export type Attributes = Record<string, string | number | boolean | null | undefined>;

function append(parent: Node, children: Child | readonly Child[]): void {
  const list = Array.isArray(children) ? children : [children];
  for (const child of list as readonly Child[]) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }
}

function setAttributes(node: Element, attributes: Attributes): void {
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    node.setAttribute(name, value === true ? '' : String(value));
  }
}

/** An HTML element with attributes (`class`, `data-testid`, ...) and text or node children. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Attributes = {}, children: Child | readonly Child[] = []): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  setAttributes(node, attributes);
  append(node, children);
  return node;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An SVG element; presentation goes in attributes (allowed by the CSP, unlike style attributes). */
export function svg<K extends keyof SVGElementTagNameMap>(tag: K, attributes: Attributes = {}, children: Child | readonly Child[] = []): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG_NS, tag);
  setAttributes(node, attributes);
  append(node, children);
  return node;
}

/** Replaces all children of `parent`. */
export function replaceChildren(parent: Element, children: Child | readonly Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

/** The element with this id, or an error naming it (the server-rendered shell provides them). */
export function byId(id: string): HTMLElement {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`the page has no #${id}`);
  return found;
}

/** A table inside a horizontally scrolling wrapper (narrow screens). */
export function scrollingTable(table: HTMLTableElement): HTMLDivElement {
  return el('div', { class: 'table-scroll' }, table);
}

/**
 * A cell of a `cards-on-phone` table: on a phone each row becomes a card and the cell shows its
 * column title before the value (app.css). The content sits in one wrapper so title and value
 * stay two columns of one line.
 */
export function cardCell(label: string, children: Child | readonly Child[], attributes: Attributes = {}): HTMLTableCellElement {
  return el('td', { 'data-label': label, ...attributes }, el('div', { class: 'cell-body' }, children));
}

/** A table head row from column titles. */
export function headRow(titles: readonly string[]): HTMLTableSectionElement {
  return el('thead', {}, el('tr', {}, titles.map((title) => el('th', { scope: 'col' }, title))));
}

/** A button that runs `action` on click, disabled while it runs so it cannot be sent twice. */
export function actionButton(label: string, attributes: Attributes, action: () => Promise<void> | void): HTMLButtonElement {
  const button = el('button', { type: 'button', ...attributes }, label);
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      await action();
    } finally {
      button.disabled = attributes.disabled === true;
    }
  });
  return button;
}
