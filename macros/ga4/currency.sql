{#- The reporting currencies (var ga4_reporting_currencies), upper-case ISO codes: the
    conversions and items marts have an amount column per code; USD, MXN and COP are always
    among them. -#}
{% macro ga4_reporting_currencies() -%}
    {%- set codes = [] -%}
    {%- for code in var('ga4_reporting_currencies', ['USD', 'MXN', 'COP']) -%}
        {%- if not modules.re.match('^[A-Za-z]{3}$', code | string) -%}
            {{ exceptions.raise_compiler_error("Variable ga4_reporting_currencies: '" ~ code ~ "' is not a three-letter ISO currency code, e.g. [USD, EUR].") }}
        {%- endif -%}
        {%- do codes.append((code | string).upper()) -%}
    {%- endfor -%}
    {#- the session, user and daily rollups and the report carry these three: add to them -#}
    {%- for code in ['USD', 'MXN', 'COP'] if code not in codes -%}
        {{ exceptions.raise_compiler_error("Variable ga4_reporting_currencies must keep USD, MXN and COP (the sessions, user_attributes and daily rollups and the report use them); add your currencies after them, e.g. [USD, MXN, COP, EUR].") }}
    {%- endfor -%}
    {{ return(codes) }}
{%- endmacro %}


{#- Left joins of the dated rates (int_currency_rates_spanned, as the CTE `rates`) valid on
    `date_column` of `relation`: `local_rate` for its `currency_column`, `rate_<code>` for
    reporting currency but USD. -#}
{% macro ga4_rate_joins(relation, currency_column, date_column, rates='currency_rates') -%}
    {%- set joins = [('local_rate', relation ~ '.' ~ currency_column)] -%}
    {%- for code in ga4_reporting_currencies() if code != 'USD' -%}
        {%- do joins.append(('rate_' ~ code | lower, "'" ~ code ~ "'")) -%}
    {%- endfor -%}
    {%- for alias, code in joins %}
    left join {{ rates }} as {{ alias }}
        on
            {{ alias }}.currency_code = {{ code }}
            and {{ relation }}.{{ date_column }} >= {{ alias }}.valid_from_date
            and {{ relation }}.{{ date_column }} < {{ alias }}.valid_to_date
    {%- endfor -%}
{%- endmacro %}


{#- SQL: an amount as money, the exact type the marts store (truffle_type('money')). A rate
    is a FLOAT64: an amount times or over a rate is rounded to money once, here, the same way
    on both engines; sums of money are then exact. `safe`: a value no NUMERIC holds (NaN, an
    infinity, 1e29 or more) is null instead of failing the build (amounts the quarantine has
    not checked; the export's own value stays in staging). -#}
{% macro ga4_money(expression, safe=false) -%}
    {%- if safe -%}
        {{ truffle_safe_cast(expression, 'money') }}
    {%- else -%}
        cast({{ expression }} as {{ truffle_type('money') }})
    {%- endif -%}
{%- endmacro %}

{#- An amount in USD: the local amount at the day's rate; where no rate is known for the
    currency and day, GA4's own USD amount (`google_usd`), which ga4_usd_from_google flags. -#}
{% macro ga4_usd_amount(local_amount, google_usd) -%}
    coalesce({{ ga4_money(local_amount ~ ' * local_rate.usd_per_unit') }}, {{ google_usd }})
{%- endmacro %}

{% macro ga4_usd_from_google(local_amount, google_usd) -%}
    ({{ local_amount }} is not null and local_rate.usd_per_unit is null and {{ google_usd }} is not null)
{%- endmacro %}

{#- One `<amount> as <prefix>_<code>,` line per reporting currency, from the USD amount. -#}
{% macro ga4_reporting_amounts(usd_amount, prefix) -%}
    {%- for code in ga4_reporting_currencies() %}
        {{ usd_amount if code == 'USD' else ga4_money(usd_amount ~ ' / rate_' ~ code | lower ~ '.usd_per_unit') }} as {{ prefix }}_{{ code | lower }},
    {%- endfor -%}
{%- endmacro %}

{#- The reporting-currency columns of a prefix as declared entries (column, key, type), so a
    contract that lacks one says which line to add (ga4_require_declared_contract_columns). -#}
{% macro ga4_reporting_columns(prefix) -%}
    {%- set entries = [] -%}
    {%- for code in ga4_reporting_currencies() -%}
        {%- do entries.append({'column': prefix ~ '_' ~ code | lower, 'key': code, 'type': 'money'}) -%}
    {%- endfor -%}
    {{ return(entries) }}
{%- endmacro %}

{#- The `<prefix>_<code>` column of the reporting currency `currency_expression` names (one of
    ga4_reporting_currencies; null for any other). -#}
{% macro ga4_pick_reporting_amount(currency_expression, prefix) -%}
    case {{ currency_expression }}
        {%- for code in ga4_reporting_currencies() %} when '{{ code }}' then {{ prefix }}_{{ code | lower }}{% endfor %}
    end
{%- endmacro %}
