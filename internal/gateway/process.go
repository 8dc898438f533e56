package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/tidings/tidings/internal/blob"
	"github.com/tidings/tidings/internal/durable"
	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/mailauth"
	"github.com/tidings/tidings/internal/mailmanager"
	"github.com/tidings/tidings/internal/message"
	mm "github.com/tidings/tidings/internal/model/mailmanager"
	"github.com/tidings/tidings/internal/rules"
)

// permanent marks an error that retrying cannot cure: the message is
// finished with it instead of the job being retried.
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// errStepTaken: another worker settled the step first; nothing to do.
var errStepTaken = errors.New("gateway: step settled by another worker")

func (g *Gateway) newOwner() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	if g.cfg.NodeID == "" {
		return hex.EncodeToString(b[:])
	}
	return g.cfg.NodeID + "/" + hex.EncodeToString(b[:])
}

// compiledRuleSet is a rule set compiled once per version (ID and
// LastModification), with the table of what its references resolved to.
type compiledRuleSet struct {
	updated  time.Time
	rs       *rules.RuleSet
	resolved map[string]string
}

func (g *Gateway) ruleSet(ctx context.Context, account, id string) (*compiledRuleSet, error) {
	r, err := g.lookups.get(ctx, account, mailmanager.KindRuleSet, id)
	if err != nil {
		return nil, err
	}
	key := account + "/" + id
	g.rsMu.Lock()
	c := g.ruleSets[key]
	g.rsMu.Unlock()
	if c != nil && c.updated.Equal(r.UpdatedAt) {
		return c, nil
	}
	rec, err := mailmanager.DecodeRuleSet(r)
	if err != nil {
		return nil, permanent{err}
	}
	rs, err := rules.CompileRuleSet(rec.Rules, rules.WithAddressLists(g.listsFor(rec.Resolved)),
		rules.WithAnalyzer(g.addonsFor(account, rec.Resolved)), rules.WithLogger(g.log.With("rule_set", id)))
	if err != nil {
		return nil, permanent{fmt.Errorf("rule set %s does not compile: %w", id, err)}
	}
	for _, w := range rs.Warnings() {
		g.log.Warn("rule set: "+w, "rule_set", id)
	}
	c = &compiledRuleSet{updated: r.UpdatedAt, rs: rs, resolved: rec.Resolved}
	g.rsMu.Lock()
	g.ruleSets[key] = c
	g.rsMu.Unlock()
	return c, nil
}

// process is the gateway.process job: it checks the message's
// authentication, evaluates its rule set per recipient into a plan of
// steps, runs the steps in order, and makes the first delivery attempt of
// its Relay steps. Every step is recorded in the transaction that commits
// what it queues, so a re-run after a crash skips the steps already done
// and repeats at most one in progress.
//
// Transactions are few, because on the embedded store every commit is an
// fsync on the one writer: steps without side effects outside the
// database (AddHeader, Drop, ReplaceRecipient, Relay, Bounce, the
// unsupported ones) are recorded together; a step with such effects
// (Archive, WriteToS3, DeliverToMailbox) first commits everything before
// it with a lease on the message, so that no other worker runs it at the
// same time. A message whose rules only relay costs one transaction here,
// and one more when the relay answers.
func (g *Gateway) process(ctx context.Context, args ProcessArgs) error {
	queueID := args.QueueID
	start := time.Now()
	log := g.log.With("queue_id", queueID)
	m, err := g.cfg.Store.GetMessage(ctx, queueID)
	switch {
	case fault.Is(err, fault.NotFound):
		log.Info("message no longer queued; nothing to do")
		return nil
	case err != nil:
		return err
	case m.State != Queued:
		return nil
	}
	now := g.cfg.Now()
	if m.LeaseOwner != "" && m.LeaseUntil.After(now) {
		// Another worker holds it; look again when its lease ends.
		wait := min(max(m.LeaseUntil.Sub(now), time.Second), g.cfg.Lease)
		log.Info("message is being processed by another worker", "retry_in", wait.Round(time.Second))
		return river.JobSnooze(wait)
	}
	r := &run{g: g, log: log, owner: g.newOwner(), attempt: args.Attempt}
	return g.finishRun(ctx, r, m, start, r.process(ctx, m))
}

// processSpooled processes m, which this node has just spooled under a
// lease of its own (see dispatcher): m is the message as committed, with
// no steps yet, so nothing needs reading back. It returns what process
// would return to the job queue.
func (g *Gateway) processSpooled(ctx context.Context, m *Message) error {
	start := time.Now()
	log := g.log.With("queue_id", m.QueueID)
	r := &run{g: g, log: log, owner: m.LeaseOwner, leased: true, fresh: true}
	return g.finishRun(ctx, r, m, start, r.process(ctx, m))
}

// finishRun turns the end of run r on m (err) into what the job gets:
// nil when the run is over or the retry of a step is queued, a snooze, or
// the error to retry with (the lease released).
func (g *Gateway) finishRun(ctx context.Context, r *run, m *Message, start time.Time, err error) error {
	log := r.log
	var perm permanent
	switch {
	case err == nil && r.retry != nil:
		return nil // a step waits for its retry; the job for it is queued
	case err == nil:
		g.obs.Processed(time.Since(start), time.Since(m.ReceivedAt))
		return nil
	case errors.Is(err, errStepTaken):
		// Another worker got there first: look again shortly.
		log.Info("message processed concurrently by another worker; will look again")
		return river.JobSnooze(time.Second)
	case errors.As(err, &perm):
		log.Error("processing failed for good", "err", err)
		return g.endProcess(ctx, m.QueueID, r.owner, err.Error())
	default:
		// The lease is released so that the retry does not wait for it; the
		// error is shown by `tidings queue show`.
		log.Warn("processing failed; will retry", "err", err)
		jobErr := err
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		rerr := g.cfg.Store.InTx(rctx, func(tx Tx) error {
			cur, err := tx.LockMessage(rctx, m.QueueID)
			if err != nil || cur.State != Queued || (cur.LeaseOwner != "" && cur.LeaseOwner != r.owner) {
				return err
			}
			cur.LeaseOwner, cur.LeaseUntil, cur.Error = "", time.Time{}, jobErr.Error()
			cur.UpdatedAt = ms(g.cfg.Now())
			return tx.UpdateMessage(rctx, cur)
		})
		if rerr != nil && !fault.Is(rerr, fault.NotFound) {
			log.Warn("could not release the message", "err", rerr)
		}
		return err
	}
}

// run is one execution of the process job on one message.
type run struct {
	g     *Gateway
	log   *slog.Logger
	owner string

	q       *queued
	steps   []Step
	newAuth bool // q.auth was computed now and is not stored yet
	newPlan bool // steps were planned now and are not stored yet
	batch   []recorded
	inline  []inlineRelay
	leased  bool // the message's lease is this run's, committed

	// attempt is the retry the job was queued for (ProcessArgs.Attempt).
	attempt int
	// retry, when set, is the job that retries a step that failed for a
	// while: the commit queues it and releases the message until then.
	retry    *ProcessArgs
	retryErr string
	// fresh: the message was just spooled and has no steps yet.
	fresh bool
	// effects: the batch holds the outcome of a step with side effects.
	effects bool
}

// recorded is a step whose outcome awaits its transaction.
type recorded struct {
	i int
	o outcome
}

// inlineRelay is a Relay step whose first attempt this run makes itself.
type inlineRelay struct {
	step int
	det  relayDetail
	rows []Delivery
}

func (r *run) process(ctx context.Context, m *Message) error {
	g := r.g
	q, err := load(m)
	if err != nil {
		return permanent{err}
	}
	r.q = q
	if q.auth == nil {
		a, err := g.verify(ctx, q)
		if err != nil {
			return err
		}
		q.auth, r.newAuth = &a, true
		r.log.Info("authentication checked", "spf", a.SPF, "dkim", a.DKIM, "dmarc", a.DMARC, "dmarc_policy", a.DMARCPolicy)
	}
	if !r.fresh {
		if r.steps, err = g.cfg.Store.Steps(ctx, m.QueueID); err != nil {
			return err
		}
	}
	if len(r.steps) == 0 {
		if r.steps, err = g.plan(ctx, r.log, q); err != nil {
			return err
		}
		r.newPlan = true
	}

	var added [][2]string
	var dropped []string
	for i := range r.steps {
		s := &r.steps[i]
		var a mm.RuleAction
		if err := json.Unmarshal(s.Spec, &a); err != nil {
			return permanent{fmt.Errorf("step %d: bad action: %w", s.Index, err)}
		}
		if s.State == StepPending {
			if n := retryAttempts(s); r.attempt > 0 && n != r.attempt {
				// A retry queued for an attempt another job has made
				// since: that job queued the next one.
				r.log.Info("retry superseded; nothing to do", "step", s.Index, "attempt", r.attempt, "made", n)
				return nil
			}
			r.attempt = 0 // checked on the first pending step: the one retried
			effects := sideEffects(a, s.Action)
			if effects && (!r.leased || r.effects) {
				// Commit what comes before, with the lease, first: so
				// that no other worker runs the step meanwhile, and a run
				// after a crash does not repeat the side effects before
				// it. A run that holds the lease already (the spool gave
				// it) and has none of those to record need not.
				if err := r.flush(ctx, false); err != nil {
					return err
				}
			}
			o, err := g.runStep(ctx, q, s, a, added, dropped)
			if err != nil {
				return fmt.Errorf("step %d (%s): %w", s.Index, s.Action, err)
			}
			s.State, s.Detail, s.Error, s.UpdatedAt = o.state, o.detail, o.err, ms(g.cfg.Now())
			r.batch = append(r.batch, recorded{i: i, o: o})
			r.effects = r.effects || effects
			if o.state == StepPending {
				// To be retried at o.retryAt: the steps after it wait
				// (they run in order), the message is released until
				// then, and a job for that attempt is queued with the
				// step's record.
				r.retry = &ProcessArgs{QueueID: q.QueueID, Attempt: retryAttempts(s), NotBefore: o.retryAt}
				r.retryErr = fmt.Sprintf("step %d (%s): %s; retry at %s", s.Index, s.Action, o.err, o.retryAt.UTC().Format(time.RFC3339))
				_, err := r.commit(ctx, false)
				return err
			}
		}
		switch {
		case s.State == StepDone && a.AddHeader != nil:
			added = append(added, [2]string{*a.AddHeader.HeaderName, *a.AddHeader.HeaderValue})
		case s.State == StepFailed && failurePolicy(a) == mm.ActionFailurePolicyDrop:
			dropped = append(dropped, s.Recipients...)
		}
	}
	finished, err := r.flushFinal(ctx)
	if err != nil {
		return err
	}
	for _, in := range r.inline {
		if err := g.deliverAndSettle(ctx, r.log, q, in.step, in.det, r.owner, in.rows); err != nil {
			// The rows keep their lease; the sweeper queues them again
			// when it ends.
			r.log.Warn("first relay attempt not recorded", "step", in.step, "err", err)
		}
	}
	if finished {
		g.removeSpooled(ctx, m)
	}
	return nil
}

// sideEffects reports whether an action acts outside the database, so
// that it must run under the message's lease, alone in its transaction.
func sideEffects(a mm.RuleAction, action string) bool {
	if action == FeedbackAction {
		return true
	}
	return a.Archive != nil || a.WriteToS3 != nil || a.DeliverToMailbox != nil || a.PublishToSns != nil || a.Send != nil ||
		a.InvokeLambda != nil
}

// flush records the steps run so far and takes the lease, unless this
// run holds it and has nothing to record.
func (r *run) flush(ctx context.Context, final bool) error {
	if r.leased && len(r.batch) == 0 && !r.newPlan && !r.newAuth && !final {
		return nil
	}
	_, err := r.commit(ctx, final)
	return err
}

func (r *run) flushFinal(ctx context.Context) (bool, error) { return r.commit(ctx, true) }

// commit writes, in one transaction: the verdicts if new, the plan if new
// (with the outcomes known so far) or the outcomes of the batch, what the
// batch's steps queue, and the message's state: QUEUED under this run's
// lease, or — final — ACTIVE or DONE, the lease released. It reports DONE.
func (r *run) commit(ctx context.Context, final bool) (bool, error) {
	g, q := r.g, r.q
	now := ms(g.cfg.Now())
	var finished bool
	// Lazy: a power cut that lost this commit would have the job run the
	// steps again (each is idempotent), never lose the message.
	err := g.cfg.Store.InTx(durable.Lazy(ctx), func(tx Tx) error {
		finished = false
		cur, err := tx.LockMessage(ctx, q.QueueID)
		if err != nil {
			return err
		}
		if cur.State != Queued || (cur.LeaseOwner != "" && cur.LeaseOwner != r.owner && cur.LeaseUntil.After(now)) {
			return errStepTaken
		}
		if r.newPlan {
			existing, err := tx.Steps(ctx, q.QueueID)
			if err != nil {
				return err
			}
			if len(existing) > 0 {
				return errStepTaken
			}
			if err := tx.InsertSteps(ctx, r.steps); err != nil {
				return err
			}
		} else {
			for _, b := range r.batch {
				ok, err := tx.UpdateStep(ctx, &r.steps[b.i])
				if err != nil {
					return err
				}
				if !ok {
					return errStepTaken
				}
			}
		}
		for _, b := range r.batch {
			if b.o.apply != nil {
				if err := b.o.apply(ctx, tx, r.owner, now.Add(g.cfg.Lease)); err != nil {
					return err
				}
			}
		}
		if r.newAuth {
			cur.Auth = encodeAuth(*q.auth)
		}
		cur.UpdatedAt = now
		if !final && r.retry != nil {
			cur.LeaseOwner, cur.LeaseUntil, cur.Error = "", time.Time{}, r.retryErr
			if err := tx.Enqueue(ctx, *r.retry); err != nil {
				return err
			}
			return tx.UpdateMessage(ctx, cur)
		}
		if !final {
			cur.LeaseOwner, cur.LeaseUntil = r.owner, now.Add(g.cfg.Lease)
			return tx.UpdateMessage(ctx, cur)
		}
		open, err := tx.CountOpen(ctx, q.QueueID)
		if err != nil {
			return err
		}
		cur.LeaseOwner, cur.LeaseUntil, cur.Error = "", time.Time{}, ""
		if open > 0 {
			cur.State = Active
		} else {
			cur.State, cur.BlobKey, finished = Done, "", true
		}
		return tx.UpdateMessage(ctx, cur)
	})
	if err != nil {
		return false, err
	}
	r.leased = !final && r.retry == nil
	for _, b := range r.batch {
		s := &r.steps[b.i]
		lvl := slog.LevelInfo
		if s.State == StepFailed || s.State == StepPending {
			lvl = slog.LevelWarn
		}
		r.log.Log(ctx, lvl, "step", "step", s.Index, "rule", s.RuleName, "action", s.Action,
			"state", s.State, "detail", s.Detail, "err", s.Error, "rcpts", len(s.Recipients))
		g.obs.Step(s.Action, s.State)
		if b.o.inline != nil {
			r.inline = append(r.inline, *b.o.inline)
		}
	}
	if r.newPlan {
		r.log.Info("rule set evaluated", "rule_set", q.RuleSetID, "steps", len(r.steps))
	}
	r.batch, r.newPlan, r.newAuth, r.effects = nil, false, false, false
	if final && len(r.steps) == 0 {
		r.log.Info("no rule applies; nothing to do", "rule_set", q.RuleSetID)
	}
	return finished, nil
}

// verify runs SPF, DKIM and DMARC on the spooled copy.
func (g *Gateway) verify(ctx context.Context, q *queued) (message.Auth, error) {
	rc, err := g.openSpooled(ctx, q.Message)
	if err != nil {
		if fault.Is(err, fault.NotFound) {
			return message.Auth{}, permanent{fmt.Errorf("spooled copy %s is missing", q.BlobKey)}
		}
		return message.Auth{}, err
	}
	defer rc.Close()
	return g.cfg.Verifier.Verify(ctx, mailauth.OriginOf(&q.env), rc)
}

// plan evaluates the rule set into steps (recorded by the run's first
// commit). References in the actions (archive, relay) are recorded as the
// IDs they resolved to, so the plan means the same whatever happens to the
// rule set afterwards.
//
// Recipients that are return paths of sent mail (Config.Feedback) get a
// Feedback step first and are left out of the rule set: bounces and
// complaints need no rule.
func (g *Gateway) plan(ctx context.Context, log *slog.Logger, q *queued) ([]Step, error) {
	now := ms(g.cfg.Now())
	var steps []Step
	fb, others, err := g.feedbackRecipients(ctx, q.env.Recipients)
	if err != nil {
		return nil, err
	}
	if len(fb) > 0 {
		steps = append(steps, Step{QueueID: q.QueueID, Rule: -1, RuleName: returnPathRule, Action: FeedbackAction,
			Spec: []byte("{}"), Recipients: fb, State: StepPending, UpdatedAt: now})
		log.Info("bounce or complaint for a return path", "rcpts", len(fb))
		if len(others) == 0 {
			return steps, nil
		}
	}
	env := q.env
	env.Recipients = others
	crs, err := g.ruleSet(ctx, q.AccountID, q.RuleSetID)
	if fault.Is(err, fault.NotFound) {
		return nil, permanent{fmt.Errorf("rule set %s of ingress point %s no longer exists", q.RuleSetID, q.IngressPointID)}
	}
	if err != nil {
		return nil, err
	}
	rc, err := g.openSpooled(ctx, q.Message)
	if err != nil {
		if fault.Is(err, fault.NotFound) {
			return nil, permanent{fmt.Errorf("spooled copy %s is missing", q.BlobKey)}
		}
		return nil, err
	}
	hdr, err := rules.ReadHeader(rc)
	rc.Close()
	if err != nil {
		return nil, err
	}
	if len(fb) == 0 {
		ok, err := g.feedbackLoopReport(ctx, log, q, hdr)
		if err != nil {
			return nil, err
		}
		if ok {
			steps = append(steps, Step{QueueID: q.QueueID, Rule: -1, RuleName: feedbackLoopRule, Action: FeedbackAction,
				Spec: []byte("{}"), Recipients: others, State: StepPending, UpdatedAt: now})
		}
	}
	msg := &rules.Message{Envelope: &env, Open: func(ctx context.Context) (io.ReadCloser, int64, error) {
		rc, err := g.openSpooled(ctx, q.Message)
		if err != nil {
			return nil, 0, err
		}
		if q.Size <= 0 {
			return rc, -1, nil // not told: the client measures it
		}
		return rc, q.Size, nil
	}}
	out, err := crs.rs.Outcome(ctx, &rules.Facts{Envelope: env, Auth: *q.auth, Header: hdr, Message: msg})
	if err != nil {
		return nil, err // an address list lookup: try again
	}
	for _, match := range out.Matches {
		for _, s := range match.Steps {
			a := resolveAction(s.Action, crs.resolved)
			spec, err := json.Marshal(a)
			if err != nil {
				return nil, permanent{err}
			}
			steps = append(steps, Step{
				QueueID: q.QueueID, Index: len(steps), Rule: match.Rule, RuleName: match.Name,
				Action: actionName(a), Spec: spec, Recipients: s.Recipients,
				State: StepPending, UpdatedAt: now,
			})
		}
	}
	return steps, nil
}

func resolveAction(a mm.RuleAction, resolved map[string]string) mm.RuleAction {
	switch {
	case a.Archive != nil && a.Archive.TargetArchive != nil:
		c := *a.Archive
		id := resolveRef(resolved, *c.TargetArchive)
		c.TargetArchive = &id
		a.Archive = &c
	case a.Relay != nil && a.Relay.Relay != nil:
		c := *a.Relay
		id := resolveRef(resolved, *c.Relay)
		c.Relay = &id
		a.Relay = &c
	}
	return a
}

func actionName(a mm.RuleAction) string {
	switch {
	case a.AddHeader != nil:
		return "AddHeader"
	case a.Archive != nil:
		return "Archive"
	case a.Bounce != nil:
		return "Bounce"
	case a.DeliverToMailbox != nil:
		return "DeliverToMailbox"
	case a.DeliverToQBusiness != nil:
		return "DeliverToQBusiness"
	case a.Drop != nil:
		return "Drop"
	case a.InvokeLambda != nil:
		return "InvokeLambda"
	case a.PublishToSns != nil:
		return "PublishToSns"
	case a.Relay != nil:
		return "Relay"
	case a.ReplaceRecipient != nil:
		return "ReplaceRecipient"
	case a.Send != nil:
		return "Send"
	case a.WriteToS3 != nil:
		return "WriteToS3"
	}
	return "Unknown"
}

// failurePolicy is the ActionFailurePolicy of an action (CONTINUE when
// unset or when the action has none).
func failurePolicy(a mm.RuleAction) mm.ActionFailurePolicy {
	var p *mm.ActionFailurePolicy
	switch {
	case a.Archive != nil:
		p = a.Archive.ActionFailurePolicy
	case a.Bounce != nil:
		p = a.Bounce.ActionFailurePolicy
	case a.DeliverToMailbox != nil:
		p = a.DeliverToMailbox.ActionFailurePolicy
	case a.DeliverToQBusiness != nil:
		p = a.DeliverToQBusiness.ActionFailurePolicy
	case a.InvokeLambda != nil:
		p = a.InvokeLambda.ActionFailurePolicy
	case a.PublishToSns != nil:
		p = a.PublishToSns.ActionFailurePolicy
	case a.Relay != nil:
		p = a.Relay.ActionFailurePolicy
	case a.Send != nil:
		p = a.Send.ActionFailurePolicy
	case a.WriteToS3 != nil:
		p = a.WriteToS3.ActionFailurePolicy
	}
	if p == nil || *p == "" {
		return mm.ActionFailurePolicyContinue
	}
	return *p
}

// outcome is what running one step came to.
type outcome struct {
	state  StepState
	detail string
	err    string
	// apply, when set, runs in the transaction that records the step
	// (rows and jobs the step queues); rows to deliver at once are leased
	// to owner until `until`.
	apply func(ctx context.Context, tx Tx, owner string, until time.Time) error
	// inline, when set, is a first delivery attempt to make once the
	// step is recorded.
	inline *inlineRelay
	// retryAt is when to try again a step that stays PENDING (state) after
	// a failure that may pass; its detail records the attempts made.
	retryAt time.Time
}

func done(detail string) outcome { return outcome{state: StepDone, detail: detail} }

func failed(format string, args ...any) outcome {
	return outcome{state: StepFailed, err: fmt.Sprintf(format, args...)}
}

// runStep runs one action. A returned error is transient: the job is
// retried and the step stays pending.
func (g *Gateway) runStep(ctx context.Context, q *queued, s *Step, a mm.RuleAction, added [][2]string, dropped []string) (outcome, error) {
	rcpts := slices.DeleteFunc(slices.Clone(s.Recipients), func(r string) bool {
		return slices.ContainsFunc(dropped, func(d string) bool { return strings.EqualFold(d, r) })
	})
	if len(rcpts) == 0 && len(s.Recipients) > 0 {
		return outcome{state: StepSkipped, detail: "every recipient was dropped by an earlier failed action (ActionFailurePolicy DROP)"}, nil
	}
	s.Recipients = rcpts
	switch {
	case s.Action == FeedbackAction:
		return g.feedback(ctx, q, s)
	case a.AddHeader != nil:
		name, value := deref(a.AddHeader.HeaderName), deref(a.AddHeader.HeaderValue)
		if err := rules.ValidateHeaderName(name); err != nil {
			return failed("%v", err), nil
		}
		if err := rules.ValidateHeaderValue(value); err != nil {
			return failed("%v", err), nil
		}
		return done(name + ": " + value), nil
	case a.Drop != nil:
		return done(fmt.Sprintf("dropped %d recipient(s)", len(rcpts))), nil
	case a.ReplaceRecipient != nil:
		for _, r := range a.ReplaceRecipient.ReplaceWith {
			if err := rules.ValidateRecipient(r); err != nil {
				return failed("%v", err), nil
			}
		}
		return done("replaced by " + strings.Join(a.ReplaceRecipient.ReplaceWith, ", ")), nil
	case a.Archive != nil:
		return g.archive(ctx, q, s, a.Archive, added)
	case a.Relay != nil:
		return g.planRelay(ctx, q, s, a.Relay, added)
	case a.WriteToS3 != nil:
		return g.writeS3(ctx, q, a.WriteToS3, added)
	case a.DeliverToMailbox != nil:
		return g.deliverToMailbox(ctx, q, s, a.DeliverToMailbox, added)
	case a.Bounce != nil:
		return g.bounce(q, s, a.Bounce)
	case a.PublishToSns != nil:
		return g.publishToSns(ctx, q, s, a.PublishToSns, added)
	case a.Send != nil:
		return g.send(ctx, q, s, added)
	case a.InvokeLambda != nil:
		return g.invokeLambda(ctx, q, s, a.InvokeLambda, added)
	case a.DeliverToQBusiness != nil:
		// Amazon Q Business is a cloud service with nothing to stand in
		// for it here: the step fails, visibly, and its
		// ActionFailurePolicy applies.
		return failed("DeliverToQBusiness cannot run on Tidings: Amazon Q Business is an AWS service with no local stand-in; the message was not handed to it"), nil
	}
	return failed("unknown action"), nil
}

// openMessage opens the spooled message as actions are handed it: the
// Authentication-Results field of this gateway and the fields added by
// AddHeader steps so far in front of the message as received;
// Authentication-Results fields that claim to be this gateway's are
// removed (RFC 8601 5). For a relay (relayID set) every incoming
// X-Mail-Manager-Originator-Org field is removed and one naming the relay
// put first. It returns the reader and an upper bound of its size.
func (g *Gateway) openMessage(ctx context.Context, q *queued, added [][2]string, relayID string) (io.ReadCloser, int64, error) {
	var fields [][2]string
	if relayID != "" {
		fields = append(fields, [2]string{OriginatorHeader, relayID})
	}
	fields = append(fields, added...)
	if q.auth != nil && q.auth.ResultsHeader != "" {
		fields = append(fields, [2]string{"Authentication-Results", q.auth.ResultsHeader})
	}
	prefix := headerLines(fields)
	rc, err := g.openSpooled(ctx, q.Message)
	if err != nil {
		if fault.Is(err, fault.NotFound) {
			return nil, 0, permanent{fmt.Errorf("spooled copy %s is missing", q.BlobKey)}
		}
		return nil, 0, err
	}
	filter := newHeaderFilter(rc, ownResults(g.cfg.Verifier.AuthservID(), relayID != ""))
	return struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(prefix), filter), rc}, int64(len(prefix)) + q.Size, nil
}

// openReceived opens the message as the client sent it, for the archive:
// without the Received field the SMTP server put first and without this
// gateway's Authentication-Results (the archive keeps both as metadata:
// sender, TLS, verdicts), with only the fields AddHeader steps added so
// far on top. A download from the archive is then, byte for byte, what
// was sent (and what the rules added).
func (g *Gateway) openReceived(ctx context.Context, q *queued, added [][2]string) (io.ReadCloser, error) {
	rc, err := g.openSpooled(ctx, q.Message)
	if err != nil {
		if fault.Is(err, fault.NotFound) {
			return nil, permanent{fmt.Errorf("spooled copy %s is missing", q.BlobKey)}
		}
		return nil, err
	}
	first := true
	filter := newHeaderFilter(rc, func(name string, field []byte) bool {
		own := first && strings.EqualFold(name, "Received") && bytes.Contains(field, []byte(" (Tidings) with "))
		first = false
		return own
	})
	return struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(headerLines(added)), filter), rc}, nil
}

func (g *Gateway) archive(ctx context.Context, q *queued, s *Step, a *mm.ArchiveAction, added [][2]string) (outcome, error) {
	arch := g.currentArchiver()
	if arch == nil {
		return failed("archive not available: this node runs no archive service"), nil
	}
	id := deref(a.TargetArchive)
	rc, err := g.openReceived(ctx, q, added)
	if err != nil {
		return outcome{}, err
	}
	defer rc.Close()
	env := q.env
	env.Recipients = s.Recipients
	// Lazily: the step that records this is lazy too (see archive.Store).
	msgID, err := arch.Store(durable.Lazy(ctx), q.AccountID, id, &env, *q.auth, rc)
	switch {
	case err == nil:
		return done("archived in " + id + " as " + msgID), nil
	case transient(err):
		return outcome{}, err
	default:
		return failed("archive %s: %v", id, err), nil
	}
}

func (g *Gateway) planRelay(ctx context.Context, q *queued, s *Step, a *mm.RelayAction, added [][2]string) (outcome, error) {
	id := deref(a.Relay)
	r, err := g.lookups.get(ctx, q.AccountID, mailmanager.KindRelay, id)
	if fault.Is(err, fault.NotFound) {
		return failed("relay %s does not exist", id), nil
	}
	if err != nil {
		return outcome{}, err
	}
	rec, err := mailmanager.DecodeRelay(r)
	if err != nil {
		return failed("relay %s: %v", id, err), nil
	}
	mailFrom := mm.MailFromPreserve
	if a.MailFrom != nil && *a.MailFrom != "" {
		mailFrom = *a.MailFrom
	}
	det := relayDetail{RelayID: id, Server: fmt.Sprintf("%s:%d", rec.ServerName, rec.ServerPort), MailFrom: mailFrom, Headers: added}
	detailJSON, _ := json.Marshal(det)
	now := ms(g.cfg.Now())
	rows := make([]Delivery, 0, len(s.Recipients))
	for _, rcpt := range s.Recipients {
		rows = append(rows, Delivery{
			QueueID: q.QueueID, Step: s.Index, Recipient: rcpt, RelayID: id,
			State: DeliveryPending, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now,
		})
	}
	in := &inlineRelay{step: s.Index, det: det, rows: rows}
	return outcome{state: StepDone, detail: string(detailJSON), inline: in,
		apply: func(ctx context.Context, tx Tx, owner string, until time.Time) error {
			// Leased to this run, which makes the first attempt as soon as
			// the step is recorded; no job is needed unless it defers.
			for i := range rows {
				rows[i].LeaseOwner, rows[i].LeaseUntil = owner, until
			}
			return tx.InsertDeliveries(ctx, rows)
		}}, nil
}

// relayDetail is the Detail of a Relay step: what the relay job needs.
type relayDetail struct {
	RelayID  string
	Server   string
	MailFrom mm.MailFrom
	Headers  [][2]string `json:",omitempty"`
}

// s3Segment: what a bucket name or prefix segment may hold in a blob key.
var s3Segment = regexp.MustCompile(`^[A-Za-z0-9!_.*'()=+,;@ -]+$`)

// writeS3 maps WriteToS3 onto the blob store: the message goes to
// s3/<bucket>/<prefix>/<queueid>.eml (the same key on a re-run, so a
// repeated step overwrites rather than duplicates).
func (g *Gateway) writeS3(ctx context.Context, q *queued, a *mm.S3Action, added [][2]string) (outcome, error) {
	bucket := deref(a.S3Bucket)
	parts := []string{"s3", bucket}
	for seg := range strings.SplitSeq(strings.Trim(deref(a.S3Prefix), "/"), "/") {
		if seg != "" {
			parts = append(parts, seg)
		}
	}
	for _, p := range parts[1:] {
		if !s3Segment.MatchString(p) || p == "." || p == ".." {
			return failed("WriteToS3: bucket or prefix segment %q cannot name a blob", p), nil
		}
	}
	key := strings.Join(append(parts, q.QueueID+".eml"), "/")
	if err := blob.ValidateKey(key); err != nil {
		return failed("WriteToS3: %v", err), nil
	}
	rc, _, err := g.openMessage(ctx, q, added, "")
	if err != nil {
		return outcome{}, err
	}
	defer rc.Close()
	info, err := g.cfg.Blobs.Put(ctx, key, rc)
	if err != nil {
		if fault.Is(err, fault.Invalid) || fault.Is(err, fault.Conflict) {
			return failed("WriteToS3: %v", err), nil
		}
		return outcome{}, err
	}
	return done(fmt.Sprintf("wrote %s (%d bytes)", key, info.Size)), nil
}

var (
	replyCodeRE = regexp.MustCompile(`^5[0-9][0-9]$`)
	statusRE    = regexp.MustCompile(`^5\.[0-9]{1,3}\.[0-9]{1,3}$`)
)

// bounce queues a delivery status notification to the envelope sender
// for the step's recipients, with the action's codes and text (never to
// the null sender: RFC 5321 6.1).
func (g *Gateway) bounce(q *queued, s *Step, a *mm.BounceAction) (outcome, error) {
	code, status := deref(a.SmtpReplyCode), deref(a.StatusCode)
	if !replyCodeRE.MatchString(code) {
		return failed("Bounce: SmtpReplyCode %q is not a 5xx reply code", code), nil
	}
	if !statusRE.MatchString(status) {
		return failed("Bounce: StatusCode %q is not a 5.x.x status code", status), nil
	}
	if q.env.MailFrom == "" {
		return done("no bounce: the message has the null sender"), nil
	}
	diag := oneLine(deref(a.DiagnosticMessage))
	now := ms(g.cfg.Now())
	rows := make([]Delivery, 0, len(s.Recipients))
	for _, rcpt := range s.Recipients {
		rows = append(rows, Delivery{
			QueueID: q.QueueID, Step: s.Index, Recipient: rcpt,
			State: DeliveryBounced, DSN: DSNPending, LastReply: code + " " + status + " " + diag,
			NextAttemptAt: now, CreatedAt: now, UpdatedAt: now,
		})
	}
	return outcome{state: StepDone, detail: fmt.Sprintf("bounce of %d recipient(s) to <%s> queued", len(rows), q.env.MailFrom),
		apply: func(ctx context.Context, tx Tx, _ string, _ time.Time) error {
			if err := tx.InsertDeliveries(ctx, rows); err != nil {
				return err
			}
			return tx.Enqueue(ctx, NotifyArgs{QueueID: q.QueueID, Step: s.Index})
		}}, nil
}

// endProcess ends the processing of a message that cannot go on
// (errText says why): ACTIVE when deliveries or notifications queued by the
// steps that ran are outstanding, DONE otherwise.
func (g *Gateway) endProcess(ctx context.Context, queueID, owner, errText string) error {
	var finished *Message
	err := g.cfg.Store.InTx(ctx, func(tx Tx) error {
		cur, err := tx.LockMessage(ctx, queueID)
		if err != nil {
			return err
		}
		if cur.State != Queued || (cur.LeaseOwner != "" && cur.LeaseOwner != owner && cur.LeaseUntil.After(g.cfg.Now())) {
			return nil
		}
		open, err := tx.CountOpen(ctx, queueID)
		if err != nil {
			return err
		}
		cur.LeaseOwner, cur.LeaseUntil, cur.Error = "", time.Time{}, errText
		cur.UpdatedAt = ms(g.cfg.Now())
		if open > 0 {
			cur.State = Active
		} else {
			cur.State, cur.BlobKey, finished = Done, "", cur
		}
		return tx.UpdateMessage(ctx, cur)
	})
	if fault.Is(err, fault.NotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if finished != nil {
		g.removeSpooled(ctx, finished)
	}
	return nil
}

// removeSpooled deletes the spooled copy of a finished message. A failure
// only leaks the file until the purge job; it is logged.
func (g *Gateway) removeSpooled(ctx context.Context, m *Message) {
	if m.Size <= blob.InlineMax {
		// Kept in the database, and deleted with the update that ended
		// it. (A copy spooled to a file before that was so is deleted
		// by the purge.)
		g.log.Info("message done", "queue_id", m.QueueID)
		return
	}
	key := blobKey(m.ReceivedAt, m.QueueID)
	if err := g.cfg.Blobs.Delete(context.WithoutCancel(ctx), key); err != nil && !fault.Is(err, fault.NotFound) {
		g.log.Warn("could not delete the spooled copy", "queue_id", m.QueueID, "key", key, "err", err)
		return
	}
	g.log.Info("message done", "queue_id", m.QueueID)
}

func deref[T any](p *T) (v T) {
	if p != nil {
		v = *p
	}
	return v
}

// oneLine makes text safe for a reply or header line: control characters
// (CR and LF above all) become spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
