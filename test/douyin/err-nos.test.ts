import { test } from 'tap'
import { errNoError, errNoOf } from '../../providers/douyin/err-nos.js'

// The err_no table on its own (the login tests map each through the sandbox).

test('errNoOf: absent is 0, numeric strings count, anything else is NaN', async (t) => {
  t.equal(errNoOf({}), 0)
  t.equal(errNoOf({ err_no: null }), 0)
  t.equal(errNoOf({ err_no: 40018 }), 40018)
  t.equal(errNoOf({ err_no: '40018' }), 40018)
  t.ok(Number.isNaN(errNoOf({ err_no: 'bad' })))
  t.ok(Number.isNaN(errNoOf({ err_no: 1.5 })))
  t.ok(Number.isNaN(errNoOf({ err_no: { nested: true } })))
})

test('errNoError: what the client learns, and what only the log does', async (t) => {
  const quoted = errNoError('tt1', 'e', { err_no: '4001x', err_tips: 42 }, [])
  t.match(quoted, { errTips: '', error: { statusCode: 502, message: /e err_no "4001x"$/ } }, 'an err_no that is not a number is quoted; err_tips that are not a string are left out')
  t.equal(errNoError('tt1', 'e', { err_no: 61234, err_tips: 't'.repeat(500) }, []).errTips, 't'.repeat(200), 'long err_tips are cut at 200 characters')
  t.match(errNoError('tt1', 'e', { err_no: 40018, log_id: 'L'.repeat(100) }, []).error.message, /\(log_id L{64}\)\)$/, 'the log_id, cut at 64')
  const misconfigured = errNoError('tt1', 'e', { err_no: 40017, err_tips: 'bad secret', log_id: '2024102117013250E8ABC6F2D070B' }, [])
  t.match(misconfigured, { error: { statusCode: 500, code: 'MPA_MISCONFIGURED', message: /\(e err_no 40017 \(log_id 2024102117013250E8ABC6F2D070B\)\)/ }, logId: '2024102117013250E8ABC6F2D070B', fix: /invalid secret; check the douyin appId\/appSecret options/ })
  t.notMatch(misconfigured.error.message, 'bad secret', 'Douyin\'s words stay in the log')
})
