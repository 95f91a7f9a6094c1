// The command palette (Ctrl-K / ⌘K): type to filter, Enter runs. Pages and actions
// come from one list so the palette and the shortcuts never disagree.
import { useEffect, useMemo, useState, type ReactNode } from 'react'
import { Modal } from './ui.tsx'

export interface Command { id: string, title: string, hint?: string, run: () => void }

export function Palette ({ commands, onClose }: { commands: Command[], onClose: () => void }): ReactNode {
  const [text, setText] = useState('')
  const [index, setIndex] = useState(0)
  const matches = useMemo(() => {
    const words = text.toLowerCase().split(/\s+/).filter(Boolean)
    return commands.filter(c => words.every(w => c.title.toLowerCase().includes(w)))
  }, [commands, text])
  useEffect(() => setIndex(0), [text])
  const run = (c: Command | undefined): void => { if (c !== undefined) { onClose(); c.run() } }
  return (
    <Modal title="Command palette" onClose={onClose}>
      <input aria-label="Command" placeholder="Go to a page or run an action…" value={text} autoFocus
        onChange={e => setText(e.target.value)}
        onKeyDown={e => {
          if (e.key === 'ArrowDown') { e.preventDefault(); setIndex(i => Math.min(i + 1, matches.length - 1)) }
          if (e.key === 'ArrowUp') { e.preventDefault(); setIndex(i => Math.max(i - 1, 0)) }
          if (e.key === 'Enter') { e.preventDefault(); run(matches[index]) }
        }} />
      <ul className="palette" role="listbox" aria-label="Commands">
        {matches.map((c, i) => (
          <li key={c.id} role="option" aria-selected={i === index} className={i === index ? 'selected' : ''} onMouseDown={e => { e.preventDefault(); run(c) }}>
            {c.title}{c.hint !== undefined && <kbd>{c.hint}</kbd>}
          </li>
        ))}
      </ul>
    </Modal>
  )
}
