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
