package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math"
	"math/rand/v2"
	"mime"
	"mime/quotedprintable"
	"strings"
	"time"
)

// The corpus: message i of seed s is a pure function of (s, i), so that
// Tidings, the direct path and Mailpit get the same bytes, generated as
// they are sent (a million messages do not fit in memory).
//
// Mix: five languages (English 40%, French, German, Spanish, Japanese 15%
// each); text only, or text and HTML alternatives (60%); 30% with one to
// three attachments (PDFs and PNGs of random bytes, base64); 35% replies
// in a thread (In-Reply-To, References, "Re: " subject); sizes from 2 KB
// to 200 KB, most of them small.

type lang struct {
	code  string
	words []string
	sep   string // between words
}

var langs = []lang{
	{"en", strings.Fields(`the report budget meeting quarterly invoice customer project deadline review contract
		schedule update shipment payment account team agenda proposal release feedback analysis forecast revenue
		approval delivery order warehouse supplier audit compliance policy training vendor renewal security
		incident migration database server customer support ticket request summary draft final minutes
		planning strategy marketing campaign launch pricing discount margin regional office holiday travel`), " "},
	{"fr", strings.Fields(`le rapport budget réunion trimestriel facture client projet échéance révision contrat
		calendrier mise jour livraison paiement compte équipe ordre jour proposition version retour analyse
		prévision chiffre affaires approbation commande entrepôt fournisseur audit conformité politique
		formation renouvellement sécurité incident migration serveur assistance demande résumé brouillon
		procès verbal stratégie campagne lancement tarif remise marge bureau régional congés déplacement`), " "},
	{"de", strings.Fields(`der Bericht Budget Besprechung vierteljährlich Rechnung Kunde Projekt Frist Prüfung Vertrag
		Zeitplan Aktualisierung Lieferung Zahlung Konto Mannschaft Tagesordnung Angebot Freigabe Rückmeldung
		Analyse Prognose Umsatz Genehmigung Bestellung Lager Lieferant Revision Richtlinie Schulung
		Verlängerung Sicherheit Vorfall Migration Datenbank Server Unterstützung Anfrage Zusammenfassung
		Entwurf Protokoll Planung Strategie Kampagne Markteinführung Preisgestaltung Rabatt Niederlassung Urlaub Dienstreise`), " "},
	{"es", strings.Fields(`el informe presupuesto reunión trimestral factura cliente proyecto plazo revisión contrato
		calendario actualización envío pago cuenta equipo orden día propuesta versión comentarios análisis
		previsión ingresos aprobación pedido almacén proveedor auditoría cumplimiento política formación
		renovación seguridad incidente migración servidor soporte solicitud resumen borrador acta
		planificación estrategia campaña lanzamiento precios descuento margen oficina regional vacaciones viaje`), " "},
	{"ja", strings.Fields(`報告書 予算 会議 四半期 請求書 顧客 プロジェクト 締切 レビュー 契約 日程 更新 出荷 支払い
		口座 チーム 議題 提案 リリース フィードバック 分析 予測 売上 承認 納品 注文 倉庫 仕入先 監査
		コンプライアンス 方針 研修 ベンダー 更新 セキュリティ インシデント 移行 データベース サーバー
		サポート チケット 依頼 要約 下書き 議事録 計画 戦略 マーケティング キャンペーン 発売 価格 割引`), "、"},
}

var (
	firstNames = strings.Fields(`alice bob carol david emma françois gérard hélène inès jürgen klaus lena maría josé lucía
		pablo sofia takeshi yuki haruto sakura olivia liam noah mia oliver chloé lukas hannah diego valentina`)
	lastNames = strings.Fields(`smith johnson martin bernard dubois müller schmidt schneider garcía lópez martínez
		sánchez tanaka suzuki takahashi watanabe brown wilson moreau lefèvre fischer weber rodríguez pérez`)
	domains = strings.Fields(`corp.example acme.example globex.example initech.example umbrella.example
		wayne.example stark.example hooli.example soylent.example tyrell.example`)
	subjectHeads = map[string][]string{
		"en": {"Quarterly report", "Invoice", "Meeting notes", "Project update", "Contract review", "Question about"},
		"fr": {"Rapport trimestriel", "Facture", "Compte rendu", "Point projet", "Révision du contrat", "Question sur"},
		"de": {"Quartalsbericht", "Rechnung", "Besprechungsprotokoll", "Projektstand", "Vertragsprüfung", "Frage zu"},
		"es": {"Informe trimestral", "Factura", "Acta de reunión", "Novedades del proyecto", "Revisión del contrato", "Pregunta sobre"},
		"ja": {"四半期報告", "請求書", "議事録", "プロジェクト進捗", "契約確認", "ご質問"},
	}
	attachNames = []string{"invoice", "report", "rapport", "bericht", "informe", "contract", "scan", "screenshot", "diagram", "minutes"}
)

// Epoch is the Date of message 0; message i is dated i × 97 s later.
var Epoch = time.Date(2024, 1, 2, 8, 0, 0, 0, time.UTC)

type person struct{ name, addr string }

func personOf(n int) person {
	f := firstNames[n%len(firstNames)]
	l := lastNames[(n/len(firstNames))%len(lastNames)]
	d := domains[(n/7)%len(domains)]
	local := asciiFold(f) + "." + asciiFold(l)
	if n >= len(firstNames)*len(lastNames) {
		local += fmt.Sprint(n / (len(firstNames) * len(lastNames)))
	}
	return person{name: strings.ToUpper(f[:1]) + f[1:] + " " + strings.ToUpper(l[:1]) + l[1:], addr: local + "@" + d}
}

func asciiFold(s string) string {
	r := strings.NewReplacer("é", "e", "è", "e", "ç", "c", "ü", "u", "ö", "o", "ä", "a", "á", "a", "í", "i", "ó", "o", "ú", "u", "ñ", "n", "ß", "ss")
	return r.Replace(s)
}

const people = 600

// Corpus generates messages of one seed.
type Corpus struct{ Seed uint64 }

func (c Corpus) rng(i int, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(c.Seed, uint64(i)<<4|stream))
}

// parent is the message i replies to, or -1.
func (c Corpus) parent(i int) int {
	r := c.rng(i, 1)
	if i == 0 || r.Float64() >= 0.35 {
		return -1
	}
	return i - 1 - r.IntN(min(i, 40))
}

// topic is what a thread started by message root is about.
func (c Corpus) topic(root int) (l lang, subject string, from person) {
	r := c.rng(root, 2)
	x := r.Float64()
	switch {
	case x < 0.40:
		l = langs[0]
	case x < 0.55:
		l = langs[1]
	case x < 0.70:
		l = langs[2]
	case x < 0.85:
		l = langs[3]
	default:
		l = langs[4]
	}
	heads := subjectHeads[l.code]
	subject = heads[r.IntN(len(heads))] + " " + words(r, l, 2+r.IntN(3)) + fmt.Sprintf(" #%d", 1000+root%9000)
	return l, subject, personOf(r.IntN(people))
}

func words(r *rand.Rand, l lang, n int) string {
	var b strings.Builder
	for k := range n {
		if k > 0 {
			b.WriteString(l.sep)
		}
		b.WriteString(l.words[r.IntN(len(l.words))])
	}
	return b.String()
}

// MessageID is the Message-ID of message i, without brackets.
func (c Corpus) MessageID(i int) string {
	return fmt.Sprintf("%08d.%x@bench.example", i, c.Seed)
}

// Token is a word only message i has (in its body), to find it by.
func Token(i int) string { return fmt.Sprintf("bq%07d", i) }

// Message is one generated message.
type Message struct {
	From     string
	To       []string
	Raw      []byte
	Subject  string
	Lang     string
	Attached bool
}

// Message generates message i.
func (c Corpus) Message(i int) Message {
	r := c.rng(i, 0)
	root, chain := i, []int{}
	for p := c.parent(root); p >= 0; p = c.parent(root) {
		chain = append([]int{p}, chain...)
		root = p
	}
	l, subject, starter := c.topic(root)
	from := starter
	if len(chain) > 0 {
		subject = "Re: " + subject
		from = personOf(r.IntN(people))
	}
	to := []person{personOf(r.IntN(people))}
	for range r.IntN(3) {
		to = append(to, personOf(r.IntN(people)))
	}
	var cc []person
	if r.Float64() < 0.25 {
		cc = append(cc, personOf(r.IntN(people)))
	}
	var h bytes.Buffer
	hdr := func(k, v string) { fmt.Fprintf(&h, "%s: %s\r\n", k, v) }
	hdr("From", addrList([]person{from}))
	hdr("To", addrList(to))
	if cc != nil {
		hdr("Cc", addrList(cc))
	}
	hdr("Subject", mime.QEncoding.Encode("utf-8", subject))
	hdr("Date", Epoch.Add(time.Duration(i)*97*time.Second).Format(time.RFC1123Z))
	hdr("Message-ID", "<"+c.MessageID(i)+">")
	if n := len(chain); n > 0 {
		hdr("In-Reply-To", "<"+c.MessageID(chain[n-1])+">")
		refs := make([]string, 0, n)
		for _, k := range chain[max(0, n-10):] {
			refs = append(refs, "<"+c.MessageID(k)+">")
		}
		hdr("References", strings.Join(refs, "\r\n "))
	}
	hdr("MIME-Version", "1.0")
	mailers := []string{"Microsoft Outlook 16.0", "Apple Mail (2.3774)", "Mozilla Thunderbird 128.3", "Gmail"}
	hdr("X-Mailer", mailers[r.IntN(len(mailers))])

	// The text: 1.5 to 10 KB of words, log-uniform, in paragraphs.
	textSize := logUniform(r, 1500, 10000)
	var text strings.Builder
	greet := map[string]string{"en": "Hello", "fr": "Bonjour", "de": "Hallo", "es": "Hola", "ja": "お疲れ様です"}[l.code]
	fmt.Fprintf(&text, "%s %s,\n\n", greet, strings.Fields(to[0].name)[0])
	for text.Len() < textSize {
		text.WriteString(words(r, l, 20+r.IntN(40)))
		text.WriteString(".\n\n")
	}
	fmt.Fprintf(&text, "ref %s\n\n-- \n%s\n%s\n", Token(i), from.name, from.addr)
	plain := text.String()

	var atts []attachment
	if r.Float64() < 0.30 {
		total := logUniform(r, 4000, 140000)
		n := 1 + r.IntN(3)
		for k := range n {
			name := attachNames[r.IntN(len(attachNames))] + fmt.Sprintf("-%d-%d", 2024+k%2, 1+r.IntN(12))
			ctype := "application/pdf"
			data := make([]byte, total/n)
			fill(r, data)
			if r.IntN(2) == 0 {
				name += ".pdf"
				copy(data, "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
				copy(data[len(data)-6:], "%%EOF\n")
			} else {
				name, ctype = name+".png", "image/png"
				copy(data, "\x89PNG\r\n\x1a\n")
			}
			atts = append(atts, attachment{name, ctype, data})
		}
	}
	withHTML := r.Float64() < 0.60

	body := c.body(r, i, plain, withHTML, atts, &h)
	h.WriteString("\r\n")
	h.Write(body)
	rcpts := make([]string, 0, len(to)+len(cc))
	for _, p := range append(to, cc...) {
		rcpts = append(rcpts, p.addr)
	}
	return Message{From: from.addr, To: rcpts, Raw: h.Bytes(), Subject: subject, Lang: l.code, Attached: atts != nil}
}

type attachment struct {
	name, ctype string
	data        []byte
}

func (c Corpus) body(r *rand.Rand, i int, plain string, withHTML bool, atts []attachment, h *bytes.Buffer) []byte {
	var b bytes.Buffer
	textPart := func(ctype, s string) {
		fmt.Fprintf(&b, "Content-Type: %s; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n", ctype)
		w := quotedprintable.NewWriter(&b)
		w.Write([]byte(strings.ReplaceAll(s, "\n", "\r\n")))
		w.Close()
		b.WriteString("\r\n")
	}
	alt := func() {
		if !withHTML {
			textPart("text/plain", plain)
			return
		}
		bnd := fmt.Sprintf("alt-%08d", i)
		fmt.Fprintf(&b, "Content-Type: multipart/alternative; boundary=%q\r\n\r\n", bnd)
		fmt.Fprintf(&b, "--%s\r\n", bnd)
		textPart("text/plain", plain)
		fmt.Fprintf(&b, "--%s\r\n", bnd)
		var html strings.Builder
		html.WriteString("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><style>p{font-family:Arial,sans-serif;font-size:14px}</style></head><body>")
		for _, para := range strings.Split(strings.TrimSpace(plain), "\n\n") {
			html.WriteString(`<p style="margin:0 0 12px 0">`)
			html.WriteString(strings.ReplaceAll(para, "\n", "<br>"))
			html.WriteString("</p>\n")
		}
		html.WriteString("</body></html>")
		textPart("text/html", html.String())
		fmt.Fprintf(&b, "--%s--\r\n", bnd)
	}
	if atts == nil {
		// The body's own Content-Type goes in the message header.
		alt()
		head, rest, _ := bytes.Cut(b.Bytes(), []byte("\r\n\r\n"))
		h.Write(head)
		h.WriteString("\r\n")
		return rest
	}
	bnd := fmt.Sprintf("mixed-%08d", i)
	fmt.Fprintf(h, "Content-Type: multipart/mixed; boundary=%q\r\n", bnd)
	b.WriteString("This is a multi-part message in MIME format.\r\n")
	fmt.Fprintf(&b, "--%s\r\n", bnd)
	alt()
	for _, a := range atts {
		fmt.Fprintf(&b, "--%s\r\nContent-Type: %s; name=%q\r\nContent-Disposition: attachment; filename=%q\r\nContent-Transfer-Encoding: base64\r\n\r\n",
			bnd, a.ctype, a.name, a.name)
		enc := base64.StdEncoding.EncodeToString(a.data)
		for len(enc) > 76 {
			b.WriteString(enc[:76])
			b.WriteString("\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc)
		b.WriteString("\r\n")
	}
	fmt.Fprintf(&b, "--%s--\r\n", bnd)
	return b.Bytes()
}

func addrList(ps []person) string {
	out := make([]string, len(ps))
	for k, p := range ps {
		out[k] = mime.QEncoding.Encode("utf-8", p.name) + " <" + p.addr + ">"
	}
	return strings.Join(out, ", ")
}

func logUniform(r *rand.Rand, lo, hi float64) int {
	return int(math.Exp(math.Log(lo) + r.Float64()*(math.Log(hi)-math.Log(lo))))
}

func fill(r *rand.Rand, p []byte) {
	for k := 0; k < len(p); k += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && k+j < len(p); j++ {
			p[k+j] = byte(v >> (8 * j))
		}
	}
}
