{#- Parts of a page URL (page_location). Both engines read RE2 regular expressions. -#}

{#- The host, lower-case, without port or credentials: https://Shop.Example.com:443/a -> shop.example.com -#}
{% macro ga4_url_hostname(url) -%}
    lower({{ truffle_regexp_extract(url, '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#@]*@)?([^/?#:]+)') }})
{%- endmacro %}

{#- The path, without query string or fragment; '/' for a bare host; null when not a URL. -#}
{% macro ga4_url_path(url) -%}
    case
        when {{ truffle_regexp_contains(url, '^[A-Za-z][A-Za-z0-9+.-]*://') }}
            then coalesce(nullif({{ truffle_regexp_extract(url, '^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*([^?#]*)') }}, ''), '/')
    end
{%- endmacro %}

{#- The query string (after '?', before '#') without the parameters of var
    ga4_page_query_params_excluded (click ids and campaign tags by default); null when none
    is left. -#}
{% macro ga4_url_query(url) -%}
    {%- set excluded = var('ga4_page_query_params_excluded', []) -%}
    {%- set query = truffle_regexp_extract(url, '\\?([^#]*)') -%}
    {%- if excluded -%}
        {%- set names = [] -%}
        {%- for name in excluded -%}{%- do names.append(modules.re.escape(name | string)) -%}{%- endfor -%}
        {%- set query = truffle_regexp_replace_all('concat(\'&\', ' ~ query ~ ')', '&(' ~ names | join('|') ~ ')(=[^&]*)?', '') -%}
        nullif(substr({{ query }}, 2), '')
    {%- else -%}
        nullif({{ query }}, '')
    {%- endif -%}
{%- endmacro %}
