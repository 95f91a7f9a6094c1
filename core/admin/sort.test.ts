import t from 'tap'
import { sortUnlessSorted } from './sort.ts'

const byNumber = (a: number, b: number): number => a - b

t.test('a list in order is answered as it is, one out of order is sorted in place', async (t) => {
  const inOrder = [1, 2, 2, 5]
  t.equal(sortUnlessSorted(inOrder, byNumber), inOrder, 'the same array')
  t.same(inOrder, [1, 2, 2, 5])
  const shuffled = [3, 1, 2]
  t.equal(sortUnlessSorted(shuffled, byNumber), shuffled, 'sorted in place')
  t.same(shuffled, [1, 2, 3])
  const lastOut = [1, 2, 3, 0]
  t.same(sortUnlessSorted(lastOut, byNumber), [0, 1, 2, 3], 'an element out of order at the end is found')
  t.same(sortUnlessSorted([], byNumber), [])
  t.same(sortUnlessSorted([7], byNumber), [7])
})

t.test('the order is the comparator\'s, as Array.prototype.sort gives it', async (t) => {
  const names = ['b', 'A', 'a', 'B', 'a-b', 'ab']
  const byLocale = (a: string, b: string): number => a.localeCompare(b)
  t.same(sortUnlessSorted([...names], byLocale), [...names].sort(byLocale))
})
