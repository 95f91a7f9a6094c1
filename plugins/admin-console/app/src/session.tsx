// Who is signed in, and what they may do. `canMutate` hides every mutation control
// for viewers and in read-only mode (the server refuses them anyway).
import { createContext, useContext } from 'react'
import type { Session } from './api.ts'

export interface SessionState { session: Session, canMutate: boolean, signOut: () => Promise<void> }

export const SessionContext = createContext<SessionState | null>(null)

export function useSession (): SessionState {
  const s = useContext(SessionContext)
  if (s === null) throw new Error('useSession outside the signed-in app')
  return s
}

export function canMutate (s: Session): boolean { return !s.readOnly && s.role !== 'viewer' }
