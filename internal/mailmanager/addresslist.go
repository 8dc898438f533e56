package mailmanager

import (
	"context"
	"net/mail"
	"strings"
	"unicode"

	"github.com/tidings/tidings/internal/fault"
	mm "github.com/tidings/tidings/internal/model/mailmanager"
)

const (
	defaultMemberPageSize = 100
	maxMemberPageSize     = 1000 // the model's AddressPageSize bound
)

// normalizeAddress checks that a is one bare email address (RFC 5322
// addr-spec, no display name) of at most 320 characters, and returns it in
// lower case: list membership is matched without regard to case, as mail
// systems match recipients in practice.
func normalizeAddress(a string) (string, error) {
	a = strings.TrimSpace(a)
	bad := func() (string, error) { return "", fault.Invalidf("%q is not a valid email address", a) }
	if len(a) < 3 || len(a) > 320 {
		return bad()
	}
	p, err := mail.ParseAddress(a)
	if err != nil || p.Name != "" || p.Address != a {
		return bad()
	}
	at := strings.LastIndexByte(a, '@')
	local, domain := a[:at], a[at+1:]
	if len(local) > 64 || !validDomain(domain) { // RFC 5321 4.5.3.1.1
		return bad()
	}
	return strings.ToLower(a), nil
}

// validDomain checks a host name: labels of letters, digits and inner
// hyphens, 1–63 octets each, 253 in all (RFC 1035 2.3.1, with the letters
// of internationalized names allowed).
func validDomain(d string) bool {
	if d == "" || len(d) > 253 {
		return false
	}
	for _, l := range strings.Split(d, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if r != '-' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
				return false
			}
		}
	}
	return true
}

// CreateAddressList creates an empty address list.
func (s *Service) CreateAddressList(ctx context.Context, in *mm.CreateAddressListRequest) (*mm.CreateAddressListResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	tags, err := tagMap(in.Tags)
	if err != nil {
		return nil, err
	}
	id, name, now := newID(KindAddressList), str(in.AddressListName), s.now()
	err = s.store.InTx(ctx, func(tx Tx) error {
		if err := checkName(ctx, tx, acct, KindAddressList, name, ""); err != nil {
			return err
		}
		r := &Resource{
			AccountID: acct, Kind: KindAddressList, ID: id, Name: name,
			ARN: s.arn(acct, KindAddressList, id), Body: encodeBody(AddressListRecord{}),
			CreatedAt: now, UpdatedAt: now,
		}
		if err := tx.Insert(ctx, r); err != nil {
			return err
		}
		return setTags(ctx, tx, acct, r.ARN, tags)
	})
	if err != nil {
		return nil, err
	}
	return &mm.CreateAddressListResponse{AddressListId: ptr(id)}, nil
}

// GetAddressList returns an address list.
func (s *Service) GetAddressList(ctx context.Context, in *mm.GetAddressListRequest) (*mm.GetAddressListResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	var out *mm.GetAddressListResponse
	err = s.store.InTx(ctx, func(tx Tx) error {
		r, err := get(ctx, tx, acct, KindAddressList, str(in.AddressListId))
		if err != nil {
			return err
		}
		out = &mm.GetAddressListResponse{
			AddressListId:        ptr(r.ID),
			AddressListName:      ptr(r.Name),
			AddressListArn:       ptr(r.ARN),
			CreatedTimestamp:     ts(r.CreatedAt),
			LastUpdatedTimestamp: ts(r.UpdatedAt),
		}
		return nil
	})
	return out, err
}

// DeleteAddressList deletes an address list that no traffic policy or rule
// set uses, with its members and its import jobs.
func (s *Service) DeleteAddressList(ctx context.Context, in *mm.DeleteAddressListRequest) (*mm.DeleteAddressListResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	id := str(in.AddressListId)
	err = s.store.InTx(ctx, func(tx Tx) error {
		if _, err := get(ctx, tx, acct, KindAddressList, id); err != nil {
			return err
		}
		if err := checkNotInUse(ctx, tx, acct, KindAddressList, id, KindImportJob); err != nil {
			return err
		}
		refs, err := tx.ReferencedBy(ctx, acct, id)
		if err != nil {
			return err
		}
		for _, r := range refs {
			if r.Kind == KindImportJob {
				if err := tx.Delete(ctx, acct, KindImportJob, r.ID); err != nil {
					return err
				}
			}
		}
		// Delete removes the members with the list.
		return tx.Delete(ctx, acct, KindAddressList, id)
	})
	if err != nil {
		return nil, err
	}
	return &mm.DeleteAddressListResponse{}, nil
}

// ListAddressLists lists address lists by ID.
func (s *Service) ListAddressLists(ctx context.Context, in *mm.ListAddressListsRequest) (*mm.ListAddressListsResponse, error) {
	out := &mm.ListAddressListsResponse{AddressLists: []mm.AddressList{}}
	next, err := s.list(ctx, KindAddressList, in.NextToken, in.PageSize, func(r *Resource) error {
		out.AddressLists = append(out.AddressLists, mm.AddressList{
			AddressListId:        ptr(r.ID),
			AddressListName:      ptr(r.Name),
			AddressListArn:       ptr(r.ARN),
			CreatedTimestamp:     ts(r.CreatedAt),
			LastUpdatedTimestamp: ts(r.UpdatedAt),
		})
		return nil
	})
	if err != nil {
		return nil, err
	}
	out.NextToken = next
	return out, nil
}

// RegisterMemberToAddressList adds an address to a list. Adding an address
// already there succeeds (the operation is idempotent).
func (s *Service) RegisterMemberToAddressList(ctx context.Context, in *mm.RegisterMemberToAddressListRequest) (*mm.RegisterMemberToAddressListResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	addr, err := normalizeAddress(str(in.Address))
	if err != nil {
		return nil, err
	}
	err = s.store.InTx(ctx, func(tx Tx) error {
		if _, err := get(ctx, tx, acct, KindAddressList, str(in.AddressListId)); err != nil {
			return err
		}
		_, err := tx.GetMember(ctx, str(in.AddressListId), addr)
		if err == nil {
			return nil
		}
		if !fault.Is(err, fault.NotFound) {
			return err
		}
		return tx.AddMember(ctx, str(in.AddressListId), addr, s.now())
	})
	if err != nil {
		return nil, err
	}
	return &mm.RegisterMemberToAddressListResponse{}, nil
}

// memberAddress normalizes the Address of a member lookup; one that is not
// a valid address cannot be a member.
func memberAddress(a string) string {
	if n, err := normalizeAddress(a); err == nil {
		return n
	}
	return strings.ToLower(strings.TrimSpace(a))
}

// DeregisterMemberFromAddressList removes an address from a list.
func (s *Service) DeregisterMemberFromAddressList(ctx context.Context, in *mm.DeregisterMemberFromAddressListRequest) (*mm.DeregisterMemberFromAddressListResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	listID, addr := str(in.AddressListId), memberAddress(str(in.Address))
	err = s.store.InTx(ctx, func(tx Tx) error {
		if _, err := get(ctx, tx, acct, KindAddressList, listID); err != nil {
			return err
		}
		if _, err := tx.GetMember(ctx, listID, addr); err != nil {
			if fault.Is(err, fault.NotFound) {
				return fault.NotFoundf("%s is not a member of address list %s", addr, listID)
			}
			return err
		}
		return tx.RemoveMember(ctx, listID, addr)
	})
	if err != nil {
		return nil, err
	}
	return &mm.DeregisterMemberFromAddressListResponse{}, nil
}

// GetMemberOfAddressList returns one member of a list.
func (s *Service) GetMemberOfAddressList(ctx context.Context, in *mm.GetMemberOfAddressListRequest) (*mm.GetMemberOfAddressListResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	listID, addr := str(in.AddressListId), memberAddress(str(in.Address))
	var out *mm.GetMemberOfAddressListResponse
	err = s.store.InTx(ctx, func(tx Tx) error {
		if _, err := get(ctx, tx, acct, KindAddressList, listID); err != nil {
			return err
		}
		m, err := tx.GetMember(ctx, listID, addr)
		if fault.Is(err, fault.NotFound) {
			return fault.NotFoundf("%s is not a member of address list %s", addr, listID)
		}
		if err != nil {
			return err
		}
		out = &mm.GetMemberOfAddressListResponse{Address: ptr(m.Address), CreatedTimestamp: ts(m.CreatedAt)}
		return nil
	})
	return out, err
}

// ListMembersOfAddressList lists the members of a list by address,
// optionally only those starting with Filter.AddressPrefix.
func (s *Service) ListMembersOfAddressList(ctx context.Context, in *mm.ListMembersOfAddressListRequest) (*mm.ListMembersOfAddressListResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	n, err := pageSize(in.PageSize, defaultMemberPageSize, maxMemberPageSize)
	if err != nil {
		return nil, err
	}
	listID := str(in.AddressListId)
	scope := "members:" + listID
	after, err := decodeToken(scope, in.NextToken)
	if err != nil {
		return nil, err
	}
	prefix := ""
	if in.Filter != nil {
		prefix = strings.ToLower(str(in.Filter.AddressPrefix))
	}
	out := &mm.ListMembersOfAddressListResponse{Addresses: []mm.SavedAddress{}}
	err = s.store.InTx(ctx, func(tx Tx) error {
		if _, err := get(ctx, tx, acct, KindAddressList, listID); err != nil {
			return err
		}
		ms, err := tx.ListMembers(ctx, listID, prefix, after, n+1)
		if err != nil {
			return err
		}
		if len(ms) > n {
			ms = ms[:n]
			out.NextToken = encodeToken(scope, ms[n-1].Address)
		}
		for _, m := range ms {
			out.Addresses = append(out.Addresses, mm.SavedAddress{Address: ptr(m.Address), CreatedTimestamp: ts(m.CreatedAt)})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
