package sms

import (
	"context"
	"strings"
	"time"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/model/smithy"
	sv "github.com/tidings/tidings/internal/model/smsvoice"
)

// DefaultOptOutList is the list numbers and pools use unless told
// otherwise; it is made at first use, as AWS makes it.
const DefaultOptOutList = "Default"

// optOutListRec is an opt-out list (ID and Name are its name).
type optOutListRec struct {
	Name      string            `json:"name"`
	ARN       string            `json:"arn"`
	Tags      map[string]string `json:"tags,omitempty"`
	CreatedAt time.Time         `json:"createdAt"`
}

func (l *optOutListRec) resource(accountID string) *Resource {
	return &Resource{AccountID: accountID, Kind: KindOptOutList, ID: l.Name, Name: l.Name, Body: encode(l), CreatedAt: l.CreatedAt}
}

func (s *Service) getOptOutList(ctx context.Context, tx Tx, accountID, ref string) (*optOutListRec, error) {
	name := ref
	if typ, rest, ok := s.parseARN(accountID, ref); ok && typ == "opt-out-list" {
		name = rest
	}
	r, err := tx.Get(ctx, accountID, KindOptOutList, name)
	if fault.Is(err, fault.NotFound) && name == DefaultOptOutList {
		if err := s.useOptOutList(ctx, tx, accountID, &name); err != nil {
			return nil, err
		}
		r, err = tx.Get(ctx, accountID, KindOptOutList, name)
	}
	if err != nil {
		return nil, restype(err, sv.ResourceTypeOptOutList, ref)
	}
	var l optOutListRec
	return &l, decode(r, &l)
}

// useOptOutList checks that the list *name exists ("" means Default,
// which is created when missing) and sets *name to its name.
func (s *Service) useOptOutList(ctx context.Context, tx Tx, accountID string, name *string) error {
	if *name == "" {
		*name = DefaultOptOutList
	}
	if typ, rest, ok := s.parseARN(accountID, *name); ok && typ == "opt-out-list" {
		*name = rest
	}
	_, err := tx.Get(ctx, accountID, KindOptOutList, *name)
	if fault.Is(err, fault.NotFound) && *name == DefaultOptOutList {
		l := &optOutListRec{Name: DefaultOptOutList, ARN: s.arn(accountID, "opt-out-list/"+DefaultOptOutList), CreatedAt: s.now()}
		return tx.Insert(ctx, l.resource(accountID))
	}
	return restype(err, sv.ResourceTypeOptOutList, *name)
}

// CreateOptOutList makes an opt-out list.
func (s *Service) CreateOptOutList(ctx context.Context, in *sv.CreateOptOutListRequest) (*sv.CreateOptOutListResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	tags, err := tagMap(in.Tags)
	if err != nil {
		return nil, err
	}
	l := &optOutListRec{Name: str(in.OptOutListName), Tags: tags, CreatedAt: s.now()}
	l.ARN = s.arn(accountID, "opt-out-list/"+l.Name)
	err = s.store.InTx(ctx, func(tx Tx) error {
		if err := s.checkLimit(ctx, tx, accountID, sv.AccountLimitNameOptOutLists); err != nil {
			return err
		}
		return restype(tx.Insert(ctx, l.resource(accountID)), sv.ResourceTypeOptOutList, l.Name)
	})
	if err != nil {
		return nil, err
	}
	return &sv.CreateOptOutListResult{OptOutListArn: ptr(l.ARN), OptOutListName: ptr(l.Name),
		CreatedTimestamp: smithy.NewTime(l.CreatedAt), Tags: tagList(l.Tags)}, nil
}

// DescribeOptOutLists lists opt-out lists.
func (s *Service) DescribeOptOutLists(ctx context.Context, in *sv.DescribeOptOutListsRequest) (*sv.DescribeOptOutListsResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	list, next, err := describe(ctx, s, accountID, KindOptOutList, len(in.OptOutListNames),
		func(tx Tx, i int) (*optOutListRec, error) {
			return s.getOptOutList(ctx, tx, accountID, in.OptOutListNames[i])
		},
		func(*optOutListRec) bool { return true }, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	return &sv.DescribeOptOutListsResult{OptOutLists: infos(list, func(l *optOutListRec) sv.OptOutListInformation {
		return sv.OptOutListInformation{OptOutListArn: ptr(l.ARN), OptOutListName: ptr(l.Name), CreatedTimestamp: smithy.NewTime(l.CreatedAt)}
	}), NextToken: next}, nil
}

// DeleteOptOutList deletes a list and its numbers; lists in use by a
// number or pool cannot go.
func (s *Service) DeleteOptOutList(ctx context.Context, in *sv.DeleteOptOutListRequest) (*sv.DeleteOptOutListResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	var l *optOutListRec
	err = s.store.InTx(ctx, func(tx Tx) error {
		if l, err = s.getOptOutList(ctx, tx, accountID, str(in.OptOutListName)); err != nil {
			return err
		}
		for _, kind := range []Kind{KindPhoneNumber, KindPool} {
			page, err := tx.List(ctx, accountID, kind, "", 10000)
			if err != nil {
				return err
			}
			for _, r := range page {
				var v struct {
					OptOutList string `json:"optOutList"`
				}
				if err := decode(r, &v); err != nil {
					return err
				}
				if v.OptOutList == l.Name {
					return conflict(sv.ConflictExceptionReasonResourceDeletionNotAllowed, sv.ResourceTypeOptOutList, l.Name, "Opt-out list %s is used by %s %s", l.Name, kind, r.ID)
				}
			}
		}
		if err := tx.ClearOptedOut(ctx, accountID, l.Name); err != nil {
			return err
		}
		return tx.Delete(ctx, accountID, KindOptOutList, l.Name)
	})
	if err != nil {
		return nil, err
	}
	return &sv.DeleteOptOutListResult{OptOutListArn: ptr(l.ARN), OptOutListName: ptr(l.Name), CreatedTimestamp: smithy.NewTime(l.CreatedAt)}, nil
}

// PutOptedOutNumber adds a number to a list.
func (s *Service) PutOptedOutNumber(ctx context.Context, in *sv.PutOptedOutNumberRequest) (*sv.PutOptedOutNumberResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	num, _, err := parseNumber(str(in.OptedOutNumber))
	if err != nil {
		return nil, err
	}
	var (
		l *optOutListRec
		o = OptedOut{Number: num, CreatedAt: s.now()}
	)
	err = s.store.InTx(ctx, func(tx Tx) error {
		if l, err = s.getOptOutList(ctx, tx, accountID, str(in.OptOutListName)); err != nil {
			return err
		}
		if cur, err := tx.GetOptedOut(ctx, accountID, l.Name, num); err == nil {
			o = *cur
			return nil
		}
		return tx.PutOptedOut(ctx, accountID, l.Name, o)
	})
	if err != nil {
		return nil, err
	}
	return &sv.PutOptedOutNumberResult{OptOutListArn: ptr(l.ARN), OptOutListName: ptr(l.Name), OptedOutNumber: ptr(o.Number),
		OptedOutTimestamp: smithy.NewTime(o.CreatedAt), EndUserOptedOut: ptr(o.EndUser)}, nil
}

// DescribeOptedOutNumbers lists the numbers of a list.
func (s *Service) DescribeOptedOutNumbers(ctx context.Context, in *sv.DescribeOptedOutNumbersRequest) (*sv.DescribeOptedOutNumbersResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	known := map[string]bool{"end-user-opted-out": true}
	filters, err := filterMap(in.Filters, func(f sv.OptedOutFilter) string { return string(*f.Name) },
		func(f sv.OptedOutFilter) []string { return f.Values }, func(n string) bool { return known[n] })
	if err != nil {
		return nil, err
	}
	after, err := decodeToken("opted-out", in.NextToken)
	if err != nil {
		return nil, err
	}
	limit := pageSize(in.MaxResults, 50)
	var (
		l    *optOutListRec
		list []OptedOut
		next *string
	)
	err = s.store.InTx(ctx, func(tx Tx) error {
		if l, err = s.getOptOutList(ctx, tx, accountID, str(in.OptOutListName)); err != nil {
			return err
		}
		if len(in.OptedOutNumbers) > 0 {
			for _, n := range in.OptedOutNumbers {
				o, err := tx.GetOptedOut(ctx, accountID, l.Name, n)
				if err != nil {
					return err
				}
				list = append(list, *o)
			}
			return nil
		}
		cur := after
		for {
			page, err := tx.ListOptedOut(ctx, accountID, l.Name, cur, 500)
			if err != nil {
				return err
			}
			for _, o := range page {
				if !matches(filters, func(string) []string { return []string{boolString(o.EndUser)} }) {
					continue
				}
				if len(list) == limit {
					next = encodeToken("opted-out", list[limit-1].Number)
					return nil
				}
				list = append(list, o)
			}
			if len(page) < 500 {
				return nil
			}
			cur = page[len(page)-1].Number
		}
	})
	if err != nil {
		return nil, err
	}
	out := &sv.DescribeOptedOutNumbersResult{OptOutListArn: ptr(l.ARN), OptOutListName: ptr(l.Name), OptedOutNumbers: []sv.OptedOutNumberInformation{}, NextToken: next}
	for _, o := range list {
		out.OptedOutNumbers = append(out.OptedOutNumbers, sv.OptedOutNumberInformation{OptedOutNumber: ptr(o.Number),
			OptedOutTimestamp: smithy.NewTime(o.CreatedAt), EndUserOptedOut: ptr(o.EndUser)})
	}
	return out, nil
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// DeleteOptedOutNumber removes a number from a list. AWS lets a number
// that opted out itself back in only after 30 days; Tidings lets the
// account do it at once.
func (s *Service) DeleteOptedOutNumber(ctx context.Context, in *sv.DeleteOptedOutNumberRequest) (*sv.DeleteOptedOutNumberResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	var (
		l *optOutListRec
		o *OptedOut
	)
	err = s.store.InTx(ctx, func(tx Tx) error {
		if l, err = s.getOptOutList(ctx, tx, accountID, str(in.OptOutListName)); err != nil {
			return err
		}
		if o, err = tx.GetOptedOut(ctx, accountID, l.Name, str(in.OptedOutNumber)); err != nil {
			return restype(err, sv.ResourceTypeOptedOutNumber, str(in.OptedOutNumber))
		}
		return tx.DeleteOptedOut(ctx, accountID, l.Name, o.Number)
	})
	if err != nil {
		return nil, err
	}
	return &sv.DeleteOptedOutNumberResult{OptOutListArn: ptr(l.ARN), OptOutListName: ptr(l.Name), OptedOutNumber: ptr(o.Number),
		OptedOutTimestamp: smithy.NewTime(o.CreatedAt), EndUserOptedOut: ptr(o.EndUser)}, nil
}

// Keywords live on a number or a pool.

// keywordOwner loads the number or pool a keyword operation names and
// returns its keywords and a function that stores it back.
func (s *Service) keywordOwner(ctx context.Context, tx Tx, accountID, ref string) (map[string]keywordRec, string, func() error, error) {
	if typ, _, ok := s.parseARN(accountID, ref); (ok && typ == "pool") || strings.HasPrefix(ref, "pool-") {
		p, err := s.getPool(ctx, tx, accountID, ref)
		if err != nil {
			return nil, "", nil, err
		}
		if p.Keywords == nil {
			p.Keywords = map[string]keywordRec{}
		}
		return p.Keywords, p.ARN, func() error { return tx.Update(ctx, p.resource(accountID)) }, nil
	}
	n, err := s.getNumber(ctx, tx, accountID, ref)
	if err != nil {
		return nil, "", nil, err
	}
	if n.Keywords == nil {
		n.Keywords = map[string]keywordRec{}
	}
	return n.Keywords, n.ARN, func() error { return s.putNumber(ctx, tx, accountID, n) }, nil
}

// PutKeyword sets a keyword's answer and action.
func (s *Service) PutKeyword(ctx context.Context, in *sv.PutKeywordRequest) (*sv.PutKeywordResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	kw := strings.ToUpper(strings.TrimSpace(str(in.Keyword)))
	rec := keywordRec{Message: str(in.KeywordMessage), Action: string(sv.KeywordActionAutomaticResponse)}
	if in.KeywordAction != nil {
		rec.Action = string(*in.KeywordAction)
	}
	var arn string
	err = s.store.InTx(ctx, func(tx Tx) error {
		kws, a, save, err := s.keywordOwner(ctx, tx, accountID, str(in.OriginationIdentity))
		if err != nil {
			return err
		}
		arn = a
		kws[kw] = rec
		return save()
	})
	if err != nil {
		return nil, err
	}
	return &sv.PutKeywordResult{OriginationIdentity: in.OriginationIdentity, OriginationIdentityArn: ptr(arn), Keyword: ptr(kw),
		KeywordMessage: ptr(rec.Message), KeywordAction: ptr(sv.KeywordAction(rec.Action))}, nil
}

// DescribeKeywords lists the keywords of a number or pool.
func (s *Service) DescribeKeywords(ctx context.Context, in *sv.DescribeKeywordsRequest) (*sv.DescribeKeywordsResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	var (
		kws map[string]keywordRec
		arn string
	)
	err = s.store.InTx(ctx, func(tx Tx) error {
		kws, arn, _, err = s.keywordOwner(ctx, tx, accountID, str(in.OriginationIdentity))
		return err
	})
	if err != nil {
		return nil, err
	}
	after, err := decodeToken("keywords", in.NextToken)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(kws))
	for k := range kws {
		names = append(names, k)
	}
	sortStrings(names)
	want := map[string]bool{}
	for _, k := range in.Keywords {
		want[strings.ToUpper(k)] = true
	}
	actions := map[string]bool{}
	for _, f := range in.Filters {
		for _, v := range f.Values {
			actions[v] = true
		}
	}
	limit := pageSize(in.MaxResults, 50)
	out := &sv.DescribeKeywordsResult{OriginationIdentity: in.OriginationIdentity, OriginationIdentityArn: ptr(arn), Keywords: []sv.KeywordInformation{}}
	for _, k := range names {
		if k <= after || (len(want) > 0 && !want[k]) || (len(actions) > 0 && !actions[kws[k].Action]) {
			continue
		}
		if len(out.Keywords) == limit {
			out.NextToken = encodeToken("keywords", str(out.Keywords[limit-1].Keyword))
			break
		}
		out.Keywords = append(out.Keywords, sv.KeywordInformation{Keyword: ptr(k), KeywordMessage: ptr(kws[k].Message), KeywordAction: ptr(sv.KeywordAction(kws[k].Action))})
	}
	return out, nil
}

// DeleteKeyword removes a keyword; AWS keeps HELP and STOP.
func (s *Service) DeleteKeyword(ctx context.Context, in *sv.DeleteKeywordRequest) (*sv.DeleteKeywordResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	kw := strings.ToUpper(str(in.Keyword))
	var (
		rec keywordRec
		arn string
	)
	err = s.store.InTx(ctx, func(tx Tx) error {
		kws, a, save, err := s.keywordOwner(ctx, tx, accountID, str(in.OriginationIdentity))
		if err != nil {
			return err
		}
		arn = a
		var ok bool
		if rec, ok = kws[kw]; !ok {
			return notFound(sv.ResourceTypeKeyword, kw, "Keyword %s does not exist", kw)
		}
		if kw == "HELP" || kw == "STOP" {
			return conflict(sv.ConflictExceptionReasonResourceDeletionNotAllowed, sv.ResourceTypeKeyword, kw, "Keyword %s cannot be deleted", kw)
		}
		delete(kws, kw)
		return save()
	})
	if err != nil {
		return nil, err
	}
	return &sv.DeleteKeywordResult{OriginationIdentity: in.OriginationIdentity, OriginationIdentityArn: ptr(arn), Keyword: ptr(kw),
		KeywordMessage: ptr(rec.Message), KeywordAction: ptr(sv.KeywordAction(rec.Action))}, nil
}
