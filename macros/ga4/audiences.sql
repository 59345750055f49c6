{#- The user_attributes columns an audience rule may test, and how (text or number). The seed
    test `accepted_values` on audiences.attribute keeps the two lists in step. -#}
{% macro audience_attributes() -%}
    {{ return({
        'country': 'text', 'device_category': 'text', 'platform': 'text',
        'lifecycle_stage': 'text', 'value_segment': 'text', 'engagement_segment': 'text',
        'ads_consent_status': 'text', 'first_touch_source': 'text', 'first_touch_medium': 'text',
        'last_touch_source': 'text', 'last_touch_medium': 'text', 'last_touch_channel_group': 'text',
        'is_logged_in_user': 'text',
        'lifetime_sessions': 'number', 'lifetime_engaged_sessions': 'number',
        'lifetime_conversions': 'number', 'lifetime_purchases': 'number',
        'lifetime_revenue_usd': 'number', 'days_since_last_seen': 'number',
        'days_since_first_seen': 'number',
    }) }}
{%- endmacro %}

{#- The attributes the audience rules use now (the seed audiences, looked up when the model is
    built, after the seeds), in the order of audience_attributes: the members view reads only
    these columns of the people, not every attribute a rule could test, so each read of the
    audiences (their data tests, audience_metrics) reads a few columns of every person, not
    twenty. Every attribute where there is nothing to ask (parsing, the offline proof, a unit
    test, a seed not loaded yet) or no rule. -#}
{% macro audience_attributes_in_use() -%}
    {%- set every = audience_attributes().keys() | list -%}
    {%- if not execute or var('ga4_render_offline', false) or model.resource_type == 'unit_test' -%}
        {{ return(every) }}
    {%- endif -%}
    {%- set rules = load_relation(ref('audiences')) -%}
    {%- if rules is none -%}
        {{ return(every) }}
    {%- endif -%}
    {%- set lookup -%}
        {{ truffle_lookup_name('audience attributes') }}
        select distinct attribute from {{ rules }}
    {%- endset -%}
    {%- set used = run_query(lookup).columns[0].values() | map('string') | list -%}
    {#- no rule (an empty seed) reads every attribute: a CASE needs a WHEN -#}
    {{ return((every | select('in', used) | list) or every) }}
{%- endmacro %}
