package handlebars

import "testing"

// A receipt template of the size SES senders use: a loop over line items
// with conditionals, escaping on.
const benchTpl = `<html><body><h1>Thanks, {{customer.firstName}}!</h1>
<table>
{{#each items}}
  <tr class="{{#if @first}}first{{/if}}"><td>{{@index}}</td><td>{{name}}</td><td>{{qty}}</td><td>{{price}}</td></tr>
{{else}}
  <tr><td>No items</td></tr>
{{/each}}
</table>
{{#with shipping}}<p>{{street}}, {{city}} {{zip}}</p>{{/with}}
{{#unless paid}}<p>Payment pending</p>{{/unless}}
</body></html>`

const benchData = `{"customer":{"firstName":"Ana <3"},"paid":false,"shipping":{"street":"1 Main St","city":"Springfield","zip":"12345"},
"items":[{"name":"Mug","qty":2,"price":9.5},{"name":"Tea & co","qty":1,"price":4},{"name":"Spoon","qty":6,"price":1.25},
{"name":"Plate","qty":4,"price":7},{"name":"Bowl","qty":4,"price":6.5}]}`

func BenchmarkParse(b *testing.B) {
	for b.Loop() {
		if _, err := Parse(benchTpl); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRender(b *testing.B) {
	tpl, err := Parse(benchTpl)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		data, err := ParseData([]byte(benchData))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tpl.Render(data, Options{HTML: true, Strict: true}); err != nil {
			b.Fatal(err)
		}
	}
}
